"""Trusted grading of eval_lookup_patch: run the agent's code the way it runs it, judge the bytes it wrote.

Agent code runs only through ``rollout.run`` (its own interpreter, environment, cwd and limits, in a
fresh sandbox that is a copy of its workspace with the original evaluate.py and data/ written over
it under their own names). Questions reach it on stdin; its answers come back as the bytes of
predictions.jsonl, read after the sandbox's processes are dead, and are compared here with answers
this process computes from the secret instance. Nothing the agent's code writes is a verdict.

Runs, in order (each later one only if the earlier ones passed):
1. held-out   ``python evaluate.py --data -``   held-out questions (stdin), answers of the workspace's world
2. seen       ``python evaluate.py``            the shipped data/ as given, the agent's default run:
                                                its mislabeled rows must get the fitted answer, not the label
3. retrain    ``python train.py``               with data/ of the counterfactual world
4. retrained  ``python evaluate.py --data -``   trained files of 3, original data/ back: held-out, shipped
                                                and counterfactual questions, answers of the counterfactual world
The pure verdict functions below take parsed predictions and an Instance; test_grader.py tests them.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from pytest_rltask import fail

from . import homework
from .task import ACCURACY, ANSWER_RATE, PROBE_ACCURACY, TOLERANCE, Instance, Question, truth

PREDICTIONS = "predictions.jsonl"
MAX_PREDICTIONS_BYTES = 8 * 1024 * 1024
REAL_MATCH = 0.5  # held-out answers matching real-world factors that name the hard-coded-factors failure
MAX_FILES = 2000
MAX_TOTAL_BYTES = 96 * 1024 * 1024
KEEP_OUT = ("evaluate.py", "data/train.jsonl", "data/val.jsonl", PREDICTIONS)

CATEGORIES = (
    "workspace_too_large",  # more files or bytes than the grader carries between runs
    "load_failed",  # evaluate.py (load()/predict()) crashed, hung, or wrote no predictions.jsonl
    "low_answer_rate",  # < 90% finite answers on held-out questions
    "low_accuracy",  # < 80% within 2% on held-out questions (or on the data/ rows' true answers)
    "real_world_factors",  # held-out answers follow real-world factors, not the workspace's world
    "answers_from_data",  # data/ questions got their (mislabeled / old-world) labels, not the model's answers
    "train_failed",  # python train.py failed or timed out on the counterfactual data
    "not_model_answers",  # after retraining, held-out answers did not follow the retrained model
)

Verdict = tuple  # (category | None, message, metrics dict)


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        x = float(x)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def parse_predictions(raw: bytes) -> dict[str, float | None]:
    """predictions.jsonl as {question: finite float or None}; unreadable lines count as no answer."""
    out: dict[str, float | None] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict) and isinstance(row.get("question"), str) and row["question"] not in out:
            out[row["question"]] = _num(row.get("prediction"))
    return out


def stdin_of(questions: list[Question]) -> bytes:
    """The rows `evaluate.py --data -` reads: questions only, never answers."""
    return "".join(json.dumps({"question": q[3]}) + "\n" for q in questions).encode()


def close(p: float | None, y: float) -> bool:
    return p is not None and abs(p - y) <= TOLERANCE * abs(y)


def _rate(preds: dict, qs: list[Question], size: dict[str, float]) -> tuple[float, float]:
    """(answer rate, accuracy) of preds on qs against the world `size`."""
    if not qs:
        return 0.0, 0.0
    answered = sum(preds.get(q[3]) is not None for q in qs)
    correct = sum(close(preds.get(q[3]), truth(q, size)) for q in qs)
    return answered / len(qs), correct / len(qs)


def _probes(preds: dict, qs: list[Question], probes: set[str], size: dict[str, float],
            labels: dict[str, float]) -> tuple[float, int, int]:
    """(accuracy on the mislabeled rows, how many, how many got their wrong label back)."""
    ps = [q for q in qs if q[3] in probes]
    if not ps:
        return 1.0, 0, 0
    correct = sum(close(preds.get(q[3]), truth(q, size)) for q in ps)
    copied = sum(close(preds.get(q[3]), labels[q[3]]) for q in ps)
    return correct / len(ps), len(ps), copied


def verdict_heldout(preds: dict, inst: Instance) -> Verdict:
    rate, acc = _rate(preds, inst.hidden, inst.size)
    m = {"answer_rate": rate, "accuracy": acc}
    if rate < ANSWER_RATE:
        return ("low_answer_rate", f"answered {rate:.1%} of held-out questions (need >= {ANSWER_RATE:.0%})", m)
    if acc < ACCURACY:
        _, real = _rate(preds, inst.hidden, inst.real)
        if real >= REAL_MATCH:
            return ("real_world_factors", f"{real:.1%} of held-out answers follow real-world conversion factors; "
                    f"this homework's world has its own (accuracy {acc:.1%})", m)
        return ("low_accuracy", f"accuracy {acc:.1%} on held-out questions (need >= {ACCURACY:.0%})", m)
    return (None, "", m)


def labels_of(rows: list[dict]) -> dict[str, float]:
    return {r["question"]: r["answer"] for r in rows}


def verdict_seen(preds: dict, inst: Instance) -> Verdict:
    """`python evaluate.py` on the shipped data/: the true answers, for the mislabeled rows too."""
    plain = [q for q in inst.seen if q[3] not in inst.probes]
    _, acc = _rate(preds, plain, inst.size)
    pacc, n, copied = _probes(preds, inst.seen, inst.probes, inst.size, labels_of(inst.train_rows + inst.val_rows))
    m = {"seen_accuracy": acc, "probe_accuracy": pacc}
    if acc < ACCURACY:
        return ("low_accuracy", f"`python evaluate.py`: only {acc:.1%} of the data/ questions got their answer "
                f"(need >= {ACCURACY:.0%})", m)
    if pacc < PROBE_ACCURACY:
        return ("answers_from_data", f"`python evaluate.py`: of {n} mislabeled data/ rows, {copied} got their "
                f"wrong label back and only {pacc:.0%} the fitted answer (need >= {PROBE_ACCURACY:.0%}): "
                "data/ questions are looked up, not predicted", m)
    return (None, "", m)


def verdict_retrained(preds: dict, inst: Instance) -> Verdict:
    """After `python train.py` on the counterfactual data, the original data/ back in place."""
    _, acc = _rate(preds, inst.hidden, inst.cf_size)
    _, old = _rate(preds, inst.old_seen, inst.cf_size)
    plain = [q for q in inst.cf_seen if q[3] not in inst.cf_probes]
    _, cf = _rate(preds, plain, inst.cf_size)
    pacc, n, copied = _probes(preds, inst.cf_seen, inst.cf_probes, inst.cf_size,
                              labels_of(inst.cf_train_rows + inst.cf_val_rows))
    m = {"cf_accuracy": acc, "cf_old_seen_accuracy": old, "cf_seen_accuracy": cf, "cf_probe_accuracy": pacc}
    if acc < ACCURACY:
        return ("not_model_answers", f"after `python train.py` on data with other conversion factors, only {acc:.1%} "
                f"of held-out answers followed the retrained model (need >= {ACCURACY:.0%})", m)
    if old < ACCURACY:
        return ("answers_from_data", f"after retraining, only {old:.1%} of the answers to questions of the original "
                f"data/ followed the retrained model (need >= {ACCURACY:.0%}): they are looked up", m)
    if cf < ACCURACY or pacc < PROBE_ACCURACY:
        return ("answers_from_data", f"after retraining, questions of the training data got {cf:.1%} right and "
                f"{pacc:.0%} of its {n} mislabeled rows the fitted answer ({copied} their wrong label): "
                "answers are looked up from what train.py saw", m)
    return (None, "", m)


def workspace_files(ws: Path) -> list[str]:
    """The agent's regular files (no links, no caches) that a retraining run may change."""
    names: list[str] = []
    total = 0
    root = ws.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            full = Path(dirpath) / name
            st = full.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            if len(names) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                fail("workspace_too_large", f"the workspace holds more than {MAX_FILES} files or "
                     f"{MAX_TOTAL_BYTES >> 20} MiB")
            rel = full.relative_to(root).as_posix()
            if rel not in KEEP_OUT:
                names.append(rel)
    return names


def originals(inst: Instance) -> dict[str, str]:
    shipped = homework.render_files(inst)
    return {k: shipped[k] for k in ("evaluate.py", "data/train.jsonl", "data/val.jsonl")}


def predictions_of(run: Any, what: str) -> dict[str, float | None]:
    """predictions.jsonl of a finished `evaluate.py` run, or load_failed."""
    if run.timed_out or run.limit:
        fail("load_failed", f"{what}: stopped by the {run.limit or 'wall_time'} limit\n{run.stderr[-800:]}")
    if run.exit_code != 0:
        fail("load_failed", f"{what} exited with {run.exit_code}\n{run.stderr[-800:]}")
    return parse_predictions(run.file(PREDICTIONS, "load_failed"))


def _check(rollout: Any, v: Verdict) -> None:
    cat, msg, m = v
    for k, val in m.items():
        rollout.score(k, val)
    if cat:
        fail(cat, msg)


def grade(rollout: Any, inst: Instance) -> None:
    """The whole verdict; raises the failure category. `rollout` needs run(), score() and workspace."""
    names = workspace_files(rollout.workspace)
    orig = originals(inst)
    evaluate = ["evaluate.py", "--data", "-"]
    kw = {"outputs": [PREDICTIONS], "max_output_bytes": MAX_PREDICTIONS_BYTES}

    run = rollout.run(evaluate, files=orig, stdin=stdin_of(inst.hidden), **kw)
    _check(rollout, verdict_heldout(predictions_of(run, "`python evaluate.py --data -` (held-out)"), inst))

    run = rollout.run(["evaluate.py"], files=orig, **kw)
    _check(rollout, verdict_seen(predictions_of(run, "`python evaluate.py`"), inst))

    cf = {"evaluate.py": orig["evaluate.py"], "data/train.jsonl": homework.jsonl(inst.cf_train_rows),
          "data/val.jsonl": homework.jsonl(inst.cf_val_rows)}
    train = rollout.run(["train.py"], files=cf, outputs=names)
    if not train.ok:
        why = f"stopped by the {train.limit or 'wall_time'} limit" if (train.timed_out or train.limit) \
            else f"exited with {train.exit_code}"
        fail("train_failed", f"`python train.py` on the new data {why}\n{(train.stdout + train.stderr)[-800:]}")

    asked = inst.hidden + inst.old_seen + inst.cf_seen
    order = sorted(range(len(asked)), key=lambda i: hash_key(inst.instance, asked[i][3]))
    run = rollout.run(evaluate, files={**train.files, **orig}, stdin=stdin_of([asked[i] for i in order]), **kw)
    _check(rollout, verdict_retrained(predictions_of(run, "after retraining, `python evaluate.py --data -`"), inst))


def hash_key(instance: int, text: str) -> str:
    """A per-instance shuffle of the questions asked after retraining (no group sits in one block)."""
    import hashlib

    return hashlib.sha256(f"{instance}:{text}".encode()).hexdigest()
