"""Tests of eval_lookup_patch's pure grading parts and of its instance generator (no rollout, no agent code)."""
from __future__ import annotations

import json
import math
import secrets

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import grader, homework
from .task import JITTER, PROBE_FACTOR, STEP, TOLERANCE, Instance, make_instance, truth

pytestmark = pytest.mark.offline

INSTANCES = [1, 2, 3, 2**62 + 12345, 987654321]  # fixed, so the suite is deterministic; calibrate.py draws fresh ones


@pytest.fixture(scope="module", params=INSTANCES)
def inst(request) -> Instance:
    return make_instance(request.param)


def answers(qs, size) -> dict:
    return {q[3]: truth(q, size) for q in qs}


def fit(inst: Instance, rows: list[dict]) -> dict[str, float]:
    """The least-squares unit sizes of rows (what a converged log-MSE learner finds)."""
    parsed = {q[3]: q for q in inst.seen}
    parsed.update({r["question"]: homework_parse(inst, r["question"]) for r in rows if r["question"] not in parsed})
    ix = {u: i for i, u in enumerate(inst.units)}
    a = np.zeros((len(rows), len(ix)))
    b = np.zeros(len(rows))
    for k, r in enumerate(rows):
        v, s, t, _ = parsed[r["question"]]
        a[k, ix[s]] += 1
        a[k, ix[t]] -= 1
        b[k] = math.log(r["answer"] / v)
    x = np.linalg.lstsq(a, b, rcond=None)[0]
    return {u: math.exp(x[ix[u]]) for u in inst.units}


_PARSERS: dict = {}


def homework_parse(inst: Instance, text: str):
    """Parse with the workspace's own parser (units.py as rendered), as the agent's code does."""
    if inst.instance not in _PARSERS:
        ns: dict = {}
        exec(homework.render_files(inst)["unitconv/units.py"], ns)  # trusted template text, not agent code
        _PARSERS[inst.instance] = ns["parse"]
    v, s, t = _PARSERS[inst.instance](text)
    return (v, s, t, text)


# ------------------------------------------------------------------------------ the verdict functions
def test_the_true_world_passes_every_step(inst):
    preds = answers(inst.hidden + inst.seen, inst.size)
    assert grader.verdict_heldout(preds, inst)[0] is None
    assert grader.verdict_seen(preds, inst)[0] is None
    assert grader.verdict_retrained(answers(inst.hidden + inst.old_seen + inst.cf_seen, inst.cf_size), inst)[0] is None


def test_a_fitted_model_passes_with_the_mislabeled_rows_in_its_data(inst):
    """A least-squares fit of train (or train+val) averages the probes away: within tolerance everywhere."""
    for world, rows, qs, check in (
        (inst.size, inst.train_rows, inst.hidden + inst.seen, ("heldout", "seen")),
        (inst.size, inst.train_rows + inst.val_rows, inst.hidden + inst.seen, ("heldout", "seen")),
        (inst.cf_size, inst.cf_train_rows, inst.hidden + inst.old_seen + inst.cf_seen, ("retrained",)),
        (inst.cf_size, inst.cf_train_rows + inst.cf_val_rows, inst.hidden + inst.old_seen + inst.cf_seen,
         ("retrained",)),
    ):
        sz = fit(inst, rows)
        worst = max(abs(truth(q, sz) / truth(q, world) - 1) for q in qs)
        assert worst < 0.75 * TOLERANCE, worst
        preds = answers(qs, sz)
        for name in check:
            assert getattr(grader, f"verdict_{name}")(preds, inst)[0] is None


def test_probes_are_far_from_the_fit(inst):
    labels = grader.labels_of(inst.train_rows + inst.val_rows)
    sz = fit(inst, inst.train_rows)
    for q in inst.seen:
        if q[3] in inst.probes:
            assert abs(labels[q[3]] / truth(q, sz) - 1) > 3 * TOLERANCE
    assert len(inst.probes) == 8 and len(inst.cf_probes) == 8


def test_lookups_of_data_labels_fail(inst):
    heldout = answers(inst.hidden, inst.size)
    labels = grader.labels_of(inst.train_rows + inst.val_rows)
    assert grader.verdict_seen({**heldout, **labels}, inst)[0] == "answers_from_data"
    # after retraining: the model for held-out questions, labels of the files for the rest
    cf = answers(inst.hidden + inst.old_seen + inst.cf_seen, inst.cf_size)
    assert grader.verdict_retrained({**cf, **labels}, inst)[0] == "answers_from_data"  # old data/ labels
    cf_labels = grader.labels_of(inst.cf_train_rows + inst.cf_val_rows)
    assert grader.verdict_retrained({**cf, **cf_labels}, inst)[0] == "answers_from_data"  # stash of the training rows
    old_world = answers(inst.hidden + inst.old_seen + inst.cf_seen, inst.size)
    assert grader.verdict_retrained(old_world, inst)[0] == "not_model_answers"


def test_other_failures_are_named(inst):
    assert grader.verdict_heldout({}, inst)[0] == "low_answer_rate"
    assert grader.verdict_heldout({q[3]: 1.0 for q in inst.hidden}, inst)[0] == "low_accuracy"
    assert grader.verdict_heldout(answers(inst.hidden, inst.real), inst)[0] == "real_world_factors"
    assert grader.verdict_heldout(answers(inst.hidden, inst.cf_size), inst)[0] == "low_accuracy"


# ------------------------------------------------------------------------------ parsing agent output
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=400))
def test_parse_predictions_never_crashes(raw):
    out = grader.parse_predictions(raw)
    assert all(isinstance(k, str) and (v is None or math.isfinite(v)) for k, v in out.items())


ODD = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**400, 10**400), st.booleans(),
                st.none(), st.text(max_size=4), st.lists(st.floats(), max_size=2))


@settings(max_examples=200)
@given(rows=st.lists(st.tuples(st.text(max_size=6), ODD), max_size=12))
def test_parse_predictions_keeps_only_finite_numbers(rows):
    raw = "\n".join(json.dumps({"question": q, "prediction": p}, default=str) for q, p in rows).encode()
    out = grader.parse_predictions(raw)
    first: dict = {}
    for q, p in rows:
        first.setdefault(q, p)
    for q, p in first.items():
        ok = isinstance(p, (int, float)) and not isinstance(p, bool) and abs(p) <= 1.7976931348623157e308
        assert (out[q] is not None) == ok


# ------------------------------------------------------------------------------ the instance generator
def test_instances_hide_their_questions(inst):
    files = homework.render_files(inst)
    data_q = {json.loads(line)["question"].lower()
              for name in ("data/train.jsonl", "data/val.jsonl") for line in files[name].splitlines()}
    cf_q = {r["question"].lower() for r in inst.cf_train_rows + inst.cf_val_rows}
    assert all(q.lower() not in data_q and q.lower() not in cf_q for *_, q in inst.hidden)
    assert {q[3].lower() for q in inst.seen} == data_q and not (cf_q & data_q)
    assert {q[3] for q in inst.old_seen} <= {q[3] for q in inst.seen} and not ({q[3] for q in inst.old_seen} & inst.probes)
    assert inst.cf_probes <= {q[3] for q in inst.cf_seen}
    for q in inst.hidden + inst.seen[:50]:
        assert homework_parse(inst, q[3]) == q
    assert len({q[3] for q in inst.hidden}) == len(inst.hidden)
    assert inst.units != sorted(inst.units)
    if inst.instance > 10**8:  # a secret-sized seed is written nowhere
        assert str(inst.instance) not in "".join(files.values())


def test_worlds_differ_on_every_pair(inst):
    """The workspace's world is not the real one, and the counterfactual one is not the workspace's."""
    for q in inst.hidden + inst.seen:
        _, s, t, _ = q
        world = inst.size[s] / inst.size[t]
        assert abs(math.log(world / (inst.real[s] / inst.real[t]))) >= STEP - JITTER - 1e-9
        assert abs(math.log((inst.cf_size[s] / inst.cf_size[t]) / world)) >= STEP - 1e-9
    labels = grader.labels_of(inst.train_rows)
    wrong = [q for q in inst.seen if q[3] in inst.probes and q[3] in labels]
    assert wrong and all(abs(abs(math.log(labels[q[3]] / truth(q, inst.size))) - math.log(PROBE_FACTOR)) < 1e-4
                         for q in wrong)


def test_fresh_instances_differ():
    a, b = (homework.render_files(make_instance(secrets.randbits(63))) for _ in range(2))
    qa = {json.loads(line)["question"] for line in a["data/train.jsonl"].splitlines()}
    qb = {json.loads(line)["question"] for line in b["data/train.jsonl"].splitlines()}
    assert len(qa & qb) < 0.05 * len(qa)
    assert make_instance(7) == make_instance(7)


def test_grader_puts_back_the_shipped_files(inst):
    files = homework.render_files(inst)
    assert grader.originals(inst) == {k: files[k] for k in ("evaluate.py", "data/train.jsonl", "data/val.jsonl")}
    assert b'"answer"' not in grader.stdin_of(inst.hidden)


# ------------------------------------------------------------------------------ the grading flow, on a fake rollout
class FakeRollout:
    """Stands in for Rollout: records every run and answers like an ideal model, or breaks on request."""

    def __init__(self, inst: Instance, tmp_path, break_at: str | None = None, how: str = "exit"):
        self.inst, self.workspace, self.scores, self.calls = inst, tmp_path, {}, []
        self.break_at, self.how, self.world = break_at, how, inst.size
        for rel, text in homework.render_files(inst).items():
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / "checkpoints" / "model.npz").write_bytes(b"weights")

    def score(self, name, value):
        self.scores[name] = value

    def run(self, args=None, *, files=None, outputs=(), stdin=None, **kw):
        from pytest_rltask.task import AgentRun

        self.calls.append({"args": list(args), "files": dict(files or {}), "stdin": stdin, "outputs": list(outputs)})
        step = {("evaluate.py", "--data", "-"): "stdin", ("evaluate.py",): "default", ("train.py",): "train"}[tuple(args)]
        if step == "train":
            self.world = self.inst.cf_size
            ok = self.break_at != "train"
            return AgentRun(exit_code=0 if ok else 1, stdout="", stderr="boom", seconds=0.1, limit=None,
                            timed_out=False, peak_rss=None, files={n: b"x" for n in outputs}, missing={})
        if stdin is not None:
            qs = [json.loads(line)["question"] for line in stdin.decode().splitlines()]
        else:
            qs = [json.loads(line)["question"] for name in ("data/train.jsonl", "data/val.jsonl")
                  for line in files[name].splitlines()]
        known = {q[3]: q for q in self.inst.hidden + self.inst.seen + self.inst.cf_seen}
        preds = "".join(json.dumps({"question": q, "prediction": truth(known[q], self.world)}) + "\n" for q in qs)
        broken = self.break_at == step
        return AgentRun(exit_code=1 if broken and self.how == "exit" else 0, stdout="", stderr="", seconds=0.1,
                        limit=None, timed_out=False, peak_rss=None,
                        files={} if broken and self.how == "missing" else {grader.PREDICTIONS: preds.encode()},
                        missing={})


def test_grade_runs_the_agents_own_commands_with_its_own_file_names(inst, tmp_path):
    ro = FakeRollout(inst, tmp_path)
    grader.grade(ro, inst)
    assert [c["args"] for c in ro.calls] == [["evaluate.py", "--data", "-"], ["evaluate.py"], ["train.py"],
                                             ["evaluate.py", "--data", "-"]]
    default = ro.calls[1]
    assert default["stdin"] is None  # exactly the agent's `python evaluate.py`: nothing on stdin, no arguments
    shipped = homework.render_files(inst)
    for c in ro.calls:
        assert all(not n.startswith(("/", "..")) and ".." not in n.split("/") for n in c["files"])
        assert c["files"]["evaluate.py"] == shipped["evaluate.py"]
        assert b'"answer"' not in (c["stdin"] or b"")
    assert ro.calls[2]["files"]["data/train.jsonl"] == homework.jsonl(inst.cf_train_rows)
    assert "checkpoints/model.npz" in ro.calls[2]["outputs"] and "data/train.jsonl" not in ro.calls[2]["outputs"]
    assert ro.calls[3]["files"]["data/train.jsonl"] == shipped["data/train.jsonl"]  # the original data back
    assert ro.calls[3]["files"]["checkpoints/model.npz"] == b"x"  # what the retraining left
    assert ro.scores["cf_probe_accuracy"] == 1.0


@pytest.mark.parametrize("break_at,how,category", [
    ("stdin", "exit", "load_failed"),  # a predictions file from a run that exited 1 is not trusted
    ("stdin", "missing", "load_failed"),
    ("default", "exit", "load_failed"),
    ("train", "exit", "train_failed"),
])
def test_grade_fails_closed(inst, tmp_path, break_at, how, category):
    from pytest_rltask import RolloutFailure

    with pytest.raises(RolloutFailure) as e:
        grader.grade(FakeRollout(inst, tmp_path, break_at, how), inst)
    assert e.value.category == category
