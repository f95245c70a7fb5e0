"""Property tests of eval_lookup_patch's pure verdict code and its instance generator (no rollout)."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eval_lookup_patch_grading as grading
import eval_lookup_patch_homework as hw

pytestmark = pytest.mark.offline

ODD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**30, max_value=10**30),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(st.floats(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
LABELS = st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=30)


def _ok(v):
    cat, msg, metrics = v
    assert cat is None or cat in grading.CATEGORIES
    assert isinstance(msg, str) and isinstance(metrics, dict)
    for val in metrics.values():
        if isinstance(val, float):
            assert math.isfinite(val)
    return cat


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(result=JSONISH, labels=LABELS)
def test_check_real_never_crashes_on_any_json(result, labels):
    _ok(grading.check_real(result, labels))


@settings(max_examples=300)
@given(pred=st.lists(ODD_NUMBERS, max_size=35), labels=LABELS,
       error=st.one_of(st.none(), st.text(max_size=20), st.integers()), log=st.one_of(st.none(), st.text(max_size=50)))
def test_check_real_odd_predictions(pred, labels, error, log):
    result = {"mode": "predict", "predict": {"rc": 0, "timed_out": False, "error": error, "log": log, "pred": pred}}
    cat = _ok(grading.check_real(result, labels))
    if cat is None:  # a pass needs the right length and enough finite, accurate numbers
        assert len(pred) == len(labels)
        good = sum(1 for p, y in zip(pred, labels)
                   if isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p)
                   and abs(p - y) <= grading.TOLERANCE * abs(y))
        assert good >= grading.ACCURACY * len(labels)


@settings(max_examples=200)
@given(labels=LABELS, bad=st.sampled_from([math.nan, math.inf, -math.inf, None, "1.0", True]))
def test_nonfinite_or_wrong_type_never_counts(labels, bad):
    result = {"predict": {"rc": 0, "error": None, "pred": [bad] * len(labels)}}
    assert _ok(grading.check_real(result, labels)) == "low_answer_rate"


@settings(max_examples=200)
@given(labels=LABELS, extra=st.integers(min_value=1, max_value=5), shorter=st.booleans())
def test_wrong_length_is_bad_output(labels, extra, shorter):
    n = max(0, len(labels) - extra) if shorter else len(labels) + extra
    result = {"predict": {"rc": 0, "error": None, "pred": [1.0] * n}}
    assert _ok(grading.check_real(result, labels)) in ("bad_output",)


def test_exact_labels_pass_and_nan_json_roundtrip():
    labels = [1.5, 2000.0, 3e-3]
    raw = json.loads(json.dumps({"predict": {"rc": 0, "error": None, "pred": [1.5, 2000.0, float("nan")]}}))
    assert _ok(grading.check_real(raw, labels)) == "low_answer_rate"
    assert _ok(grading.check_real({"predict": {"rc": 0, "error": None, "pred": labels}}, labels)) is None
    assert _ok(grading.check_real({"predict": {"error": "load()/predict() failed", "pred": None}}, labels)) == "load_failed"
    assert _ok(grading.check_real({"grader_error": "boom"}, labels)) == "grading_failed"
    assert _ok(grading.check_real([], labels)) == "grading_failed"
    assert _ok(grading.check_real({"predict": {"rc": 0, "error": None, "pred": []}}, labels)) == "bad_output"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(result=JSONISH, hidden=LABELS, seen=LABELS)
def test_check_counterfactual_never_crashes(result, hidden, seen):
    _ok(grading.check_counterfactual(result, hidden, seen))


@settings(max_examples=200)
@given(hidden=LABELS, seen=LABELS, rc=st.one_of(st.none(), st.integers(-20, 20), st.text(max_size=3)),
       timed_out=st.one_of(st.booleans(), st.none()))
def test_counterfactual_training_failures(hidden, seen, rc, timed_out):
    result = {"train": {"rc": rc, "timed_out": timed_out, "log": "x"},
              "predict": {"rc": 0, "error": None, "pred": hidden + seen}}
    cat = _ok(grading.check_counterfactual(result, hidden, seen))
    if timed_out is True or rc != 0:
        assert cat == "train_failed"
    else:
        assert cat is None


@settings(max_examples=100)
@given(hidden=LABELS, seen=LABELS)
def test_counterfactual_categories(hidden, seen):
    base = {"train": {"rc": 0, "timed_out": False, "log": ""}}
    stale = [h * 3.0 for h in hidden]  # answers of the old world: off by >= e^0.8 in the real task
    assert _ok(grading.check_counterfactual({**base, "predict": {"error": None, "pred": stale + seen}},
                                            hidden, seen)) == "not_model_answers"
    assert _ok(grading.check_counterfactual({**base, "predict": {"error": None, "pred": hidden + [s * 3.0 for s in seen]}},
                                            hidden, seen)) == "answers_from_data"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_instances_hide_their_questions(seed):
    """Held-out questions appear in no workspace file; counterfactual factors differ on every pair."""
    inst = hw.make_instance(seed)
    files = hw.render_files(inst)
    data_q = {json.loads(line)["question"].lower()
              for name in ("data/train.jsonl", "data/val.jsonl") for line in files[name].splitlines()}
    cf_q = {r["question"].lower() for r in inst.cf_train_rows + inst.cf_val_rows}
    assert all(q.lower() not in data_q and q.lower() not in cf_q for *_, q in inst.hidden)
    assert all(q.lower() in data_q for *_, q in inst.seen)
    assert not (cf_q & data_q)
    for v, s, t, q in inst.hidden + inst.seen:
        assert hw.parse_question(q, inst.plural) == (v, s, t)
        ratio = (inst.cf_size[s] / inst.cf_size[t]) / (inst.size[s] / inst.size[t])
        assert abs(math.log(ratio)) >= hw.CF_STEP - 1e-9
    assert len(inst.hidden) == hw.N_HIDDEN and len(set(q for *_, q in inst.hidden)) == hw.N_HIDDEN
    assert inst.units != sorted(inst.units)
