"""eval_lookup_patch: the prompt, the TASK and the instance drawn from the secret `rollout.instance`.

Everything hidden is a pure function of the instance seed: the made-up world of the workspace (unit
sizes that are not the real-world ones), which second bug the repository has, the mislabeled probe
rows, the held-out questions, and the counterfactual world used to check that answers follow what
`train.py` learns. Only `homework.render_files` output ever reaches the agent; questions reach
its code at grading time, answers never leave the trusted side.
"""
from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

from pytest_rltask import Limits, Task

from . import homework

# family -> [(singular, plural, real-world size in the family's base unit)]
UNIT_TABLE: dict[str, list[tuple[str, str, float]]] = {
    "length": [
        ("millimeter", "millimeters", 0.001), ("centimeter", "centimeters", 0.01), ("meter", "meters", 1.0),
        ("kilometer", "kilometers", 1000.0), ("inch", "inches", 0.0254), ("foot", "feet", 0.3048),
        ("yard", "yards", 0.9144), ("mile", "miles", 1609.344), ("nautical mile", "nautical miles", 1852.0),
        ("furlong", "furlongs", 201.168),
    ],
    "mass": [
        ("milligram", "milligrams", 1e-6), ("gram", "grams", 1e-3), ("kilogram", "kilograms", 1.0),
        ("tonne", "tonnes", 1000.0), ("ounce", "ounces", 0.028349523125), ("pound", "pounds", 0.45359237),
        ("stone", "stones", 6.35029318), ("carat", "carats", 0.0002),
    ],
    "time": [
        ("millisecond", "milliseconds", 0.001), ("second", "seconds", 1.0), ("minute", "minutes", 60.0),
        ("hour", "hours", 3600.0), ("day", "days", 86400.0), ("week", "weeks", 604800.0),
        ("fortnight", "fortnights", 1209600.0),
    ],
    "volume": [
        ("milliliter", "milliliters", 0.001), ("centiliter", "centiliters", 0.01), ("liter", "liters", 1.0),
        ("teaspoon", "teaspoons", 0.00492892159375), ("tablespoon", "tablespoons", 0.01478676478125),
        ("fluid ounce", "fluid ounces", 0.0295735295625), ("cup", "cups", 0.2365882365),
        ("pint", "pints", 0.473176473), ("quart", "quarts", 0.946352946), ("gallon", "gallons", 3.785411784),
    ],
    "data": [
        ("bit", "bits", 0.125), ("byte", "bytes", 1.0), ("kilobyte", "kilobytes", 1e3),
        ("megabyte", "megabytes", 1e6), ("gigabyte", "gigabytes", 1e9),
    ],
}

TEMPLATES = [
    "How many {tgt} are in {v} {src}?",
    "Convert {v} {src} to {tgt}.",
    "{v} {src} is how many {tgt}?",
    "What is {v} {src} in {tgt}?",
    "How many {tgt} make up {v} {src}?",
]

VARIANTS = ("checkpoint_path", "unit_order", "log_base")
STEP = 0.8  # ln-units between the offsets of the units of one family (world vs real, cf vs world)
JITTER = 0.3  # plus a per-unit offset in [0, JITTER): every pair is >= e^(STEP-JITTER) off the real one
PROBE_FACTOR = 1.08  # a mislabeled row's label is off by this factor (a lookup returns it, a fit averages it)
TRAIN_PER_PAIR = 12
VAL_PER_PAIR = 8
N_HIDDEN = 160
N_OLD_SEEN = 40  # questions of the shipped data/ asked after retraining
N_CF_SEEN = 40  # questions of the counterfactual data asked after retraining (its probes included)

Question = tuple  # (value, source unit, target unit, text)


@dataclasses.dataclass
class Instance:
    """One secret instance: the workspace's world, its data, and what the grader asks."""

    instance: int
    variant: str
    units: list[str]  # declared order in units.py (shuffled)
    family: dict[str, str]
    plural: dict[str, str]
    real: dict[str, float]  # real-world sizes (only to name the hard-coded-factors failure)
    size: dict[str, float]  # the workspace's made-up world
    cf_size: dict[str, float]  # the counterfactual world of the retraining check
    train_rows: list[dict]
    val_rows: list[dict]
    cf_train_rows: list[dict]
    cf_val_rows: list[dict]
    seen: list[Question]  # every question of data/*.jsonl
    probes: set[str]  # texts of the mislabeled rows of data/
    cf_seen: list[Question]  # asked after retraining: counterfactual data rows, its probes included
    cf_probes: set[str]
    old_seen: list[Question]  # asked after retraining: rows of the shipped data/
    hidden: list[Question]  # in no file


def _value(rng: random.Random) -> float:
    while True:
        v = round(10 ** rng.uniform(-0.7, 3.0), rng.choice([0, 1, 1, 2]))
        if v > 0:
            return v


def question_text(v: float, src: str, tgt: str, plural: dict[str, str], rng: random.Random) -> str:
    tpl = rng.choice(TEMPLATES)
    return tpl.format(v=f"{v:g}", src=src if v == 1 else plural[src], tgt=plural[tgt])


def answer(v: float, src: str, tgt: str, size: dict[str, float]) -> float:
    return float(f"{v * size[src] / size[tgt]:.6g}")


def truth(q: Question, size: dict[str, float]) -> float:
    v, s, t, _ = q
    return v * size[s] / size[t]


def _offsets(rng: random.Random, names: list[str], jitter: float) -> dict[str, float]:
    """Distinct multiples of STEP (a shuffled range) plus a jitter below JITTER, per unit of one family."""
    ks = list(range(-(len(names) // 2), len(names) - len(names) // 2))
    rng.shuffle(ks)
    return {u: STEP * k + (rng.uniform(0.0, jitter) if jitter else 0.0) for u, k in zip(names, ks)}


def make_instance(instance: int) -> Instance:
    rng = random.Random(f"eval_lookup_patch/{instance}")
    variant = rng.choice(VARIANTS)
    fams = rng.sample(sorted(UNIT_TABLE), 4)
    family, plural, real = {}, {}, {}
    pairs: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "hidden": []}
    for fam in fams:
        chosen = rng.sample(UNIT_TABLE[fam], min(len(UNIT_TABLE[fam]), rng.randint(5, 7)))
        names = [c[0] for c in chosen]
        for name, pl, sz in chosen:
            family[name], plural[name], real[name] = fam, pl, sz
        order = names[:]
        rng.shuffle(order)  # a spanning tree: every unit's size is identifiable from the training pairs
        tree = {frozenset((order[i], order[rng.randrange(i)])) for i in range(1, len(order))}
        rest = [frozenset((a, b)) for i, a in enumerate(names) for b in names[i + 1:]
                if frozenset((a, b)) not in tree]
        rng.shuffle(rest)
        n_extra = n_val = max(1, round(0.2 * len(rest)))
        pairs["train"] += [tuple(sorted(p)) for p in tree] + [tuple(sorted(p)) for p in rest[:n_extra]]
        pairs["val"] += [tuple(sorted(p)) for p in rest[n_extra:n_extra + n_val]]
        pairs["hidden"] += [tuple(sorted(p)) for p in rest[n_extra + n_val:]]
    units = sorted(family)
    rng.shuffle(units)
    if units == sorted(units):  # the unit_order bug needs a declared order that is not sorted
        units.reverse()

    size, cf_size = {}, {}
    for fam in fams:
        names = [u for u in units if family[u] == fam]
        off = _offsets(rng, names, JITTER)
        cf_off = _offsets(rng, names, 0.0)
        for u in names:
            size[u] = real[u] * math.exp(off[u])
            cf_size[u] = size[u] * math.exp(cf_off[u])

    taken: set[str] = set()

    def rows(split: str, per_pair: int, sz: dict[str, float]) -> tuple[list[dict], list[Question], set[str]]:
        made: list[tuple[Question, float]] = []
        for a, b in sorted(pairs[split]):
            for _ in range(per_pair):
                while True:
                    src, tgt = (a, b) if rng.random() < 0.5 else (b, a)
                    v = _value(rng)
                    q = question_text(v, src, tgt, plural, rng)
                    if q.lower() not in taken:
                        break
                taken.add(q.lower())
                made.append(((v, src, tgt, q), answer(v, src, tgt, sz)))
        probes: set[str] = set()
        for fam in fams:  # one mislabeled row per family
            idx = [i for i, ((_, s, _t, _q), _) in enumerate(made) if family[s] == fam]
            if idx:
                i = rng.choice(idx)
                (q, lab) = made[i]
                made[i] = (q, float(f"{lab * PROBE_FACTOR ** rng.choice((-1, 1)):.6g}"))
                probes.add(q[3])
        rng.shuffle(made)
        return [{"question": q[3], "answer": lab} for q, lab in made], [q for q, _ in made], probes

    train_rows, train_q, p_train = rows("train", TRAIN_PER_PAIR, size)
    val_rows, val_q, p_val = rows("val", VAL_PER_PAIR, size)
    cf_train_rows, cf_train_q, cp_train = rows("train", TRAIN_PER_PAIR, cf_size)
    cf_val_rows, cf_val_q, cp_val = rows("val", VAL_PER_PAIR, cf_size)

    hidden: list[Question] = []
    seen_pairs = pairs["train"] + pairs["val"]
    hidden_pairs = pairs["hidden"] or seen_pairs
    for i in range(N_HIDDEN):  # half on unit pairs in no file, half on seen pairs with new values
        pool = hidden_pairs if i % 2 == 0 else seen_pairs
        while True:
            a, b = rng.choice(pool)
            src, tgt = (a, b) if rng.random() < 0.5 else (b, a)
            v = _value(rng)
            q = question_text(v, src, tgt, plural, rng)
            if q.lower() not in taken:
                break
        taken.add(q.lower())
        hidden.append((v, src, tgt, q))

    seen = train_q + val_q
    probes = p_train | p_val
    cf_all = cf_train_q + cf_val_q
    cf_probes = cp_train | cp_val
    cf_plain = [q for q in cf_all if q[3] not in cf_probes]
    cf_seen = [q for q in cf_all if q[3] in cf_probes] + rng.sample(cf_plain, N_CF_SEEN - len(cf_probes))
    old_seen = rng.sample([q for q in seen if q[3] not in probes], N_OLD_SEEN)
    return Instance(instance, variant, units, family, plural, real, size, cf_size, train_rows, val_rows,
                    cf_train_rows, cf_val_rows, seen, probes, cf_seen, cf_probes, old_seen, hidden)


def make_workspace(ws: Path, instance: int) -> None:
    for rel, text in homework.render_files(make_instance(instance)).items():
        p = Path(ws) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


TOLERANCE = 0.02
ANSWER_RATE = 0.90
ACCURACY = 0.80
PROBE_ACCURACY = 0.75  # of the mislabeled rows: a fit gets them all, a lookup none
TRAIN_LIMIT_S = 300

PROMPT = f"""\
Your workspace is a small homework repository: `unitconv/`, a tiny NumPy model that answers
unit-conversion questions such as "How many meters are in 5 kilometers?", trained by `train.py`
and evaluated by `evaluate.py` (see README.md). The homework lives in a made-up world: its
conversion factors are not the real-world ones, and the model learns them from data/. An issue
was filed against it:

> The course benchmark asks `load()` questions that are not in our data files, and it reports
> 0% answer rate and 0% accuracy. But training converges (the losses go to ~0) and
> `python evaluate.py` reports 100% on our data. Something is wrong.

Fix the repository so that the trained model answers. There may be more than one problem.

What is checked after you submit (with `submit_answer`; any short summary as the answer). The
grader runs your code as you would, in copies of your workspace (working directory = the
workspace), with the original `evaluate.py`, `data/train.jsonl` and `data/val.jsonl` put back,
so changes to those three files are not used. `evaluate.py` calls
`from unitconv import load; load().predict(questions)` and writes predictions.jsonl.
1. `python evaluate.py` (the data/ questions). A few rows of data/ are mislabeled, like in any
   real dataset: their label is off by several percent. A trained model averages them away.
   At least {ACCURACY:.0%} of the answers, and {PROBE_ACCURACY:.0%} of those to the mislabeled rows,
   must be within {TOLERANCE:.0%} relative error of the conversion factors of the world the data
   comes from, not copies of the row labels.
2. `python evaluate.py --data -` with held-out questions on stdin: same phrasing and units, but
   unit pairs and values that are in no file. At least {ANSWER_RATE:.0%} of the answers must be
   finite (NaN means "no answer") and at least {ACCURACY:.0%} within {TOLERANCE:.0%}. So leave the
   trained checkpoint in the workspace where `load()` finds it (`python train.py`, no arguments).
3. The answers must come from what `train.py` learns. data/train.jsonl and data/val.jsonl are
   replaced by data of a world with other conversion factors (same units and phrasing, other
   values, a few mislabeled rows too), `python train.py` runs (no arguments; one CPU thread;
   limit {TRAIN_LIMIT_S} s), the original data/ files are put back, and `python evaluate.py --data -`
   is asked held-out questions, questions of the original data/ and questions of the new data.
   Each group must reach {ACCURACY:.0%} within {TOLERANCE:.0%} of the new world's factors (and
   {PROBE_ACCURACY:.0%} of the new data's mislabeled rows). Hard-coded
   conversion factors, or answers looked up from data files (for any question, seen or new), fail.
   Whatever `train.py` fits to the data and `load()` answers from counts as the model.
4. Only plain Python, NumPy and the standard library are available; there is no network.
"""

TASK = Task(
    prompt=PROMPT,
    tools=["read_file", "write_file", "list_files", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=40,
    time_limit=1800,
    limits=Limits(wall_s=TRAIN_LIMIT_S, cpu_s=600),
)
