"""Property tests of double_softmax's pure verdict (grader JSON -> category): odd but legal JSON
must give a clean failure category (or a pass only when everything is right), never a crash."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import double_softmax_task as T

pytestmark = pytest.mark.offline

NONCE = "ab" * 16
N_MAIN = 1347
N_GRADER = 1347


def _rec(bs: int, count: int) -> list:
    return [{"opt": "torch.optim.adam.Adam", "lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-08,
             "weight_decay": 0, "amsgrad": False, "maximize": False, "n_params": 4810, "bs": bs},
            count]


def _ctx(X, y) -> dict:
    return {"nonce": NONCE, "data_digest": ["a", "b", "c", "d"], "n_main": N_MAIN,
            "n_grader": N_GRADER, "X_hold": X, "y_hold": y}


def _good() -> tuple[dict, dict]:
    """A grader JSON that passes: weights of a 'network' that reads the label off feature 0."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200)
    X = np.zeros((200, 64), dtype=np.float32)
    X[:, 0] = y
    W1 = np.zeros((64, 64))
    W1[0, 0] = 1.0
    W2 = np.zeros((10, 64))
    b2 = np.zeros(10)
    for c in range(10):   # logit_c = -(x0 - c)^2 up to a constant in x0: linear in x0 per class
        W2[c, 0] = 2.0 * c
        b2[c] = -float(c * c)
    out = {
        "nonce": NONCE, "errors": {}, "data_digest": ["a", "b", "c", "d"],
        "arch": {"linears": [[64, 64, True], [64, 10, True]], "n_params": 4810,
                 "only_linear_params": True},
        "main_obs": {"records": [_rec(3, 20), _rec(64, 420)]},
        "grader_train": {"steps": 440, "worst_loss": 0.01, "worst_grad": 0.02,
                         "loss_error": None, "agree": 1.0},
        "weights": {"W1": W1.tolist(), "b1": [0.0] * 64, "W2": W2.tolist(), "b2": b2.tolist()},
    }
    return out, _ctx(X, y)


def test_good_passes():
    out, ctx = _good()
    assert T.verdict(out, ctx) is None


@pytest.mark.parametrize("mutate, cat", [
    (lambda o: o.update(nonce="x"), "bad_result"),
    (lambda o: o["errors"].update(main="Traceback ..."), "script_error"),
    (lambda o: o.update(data_digest=None), "data_changed"),
    (lambda o: o["arch"].update(linears=[[64, 128, True], [128, 10, True]]), "architecture_changed"),
    (lambda o: o["main_obs"]["records"][1][0].update(lr=0.01), "budget_changed"),
    (lambda o: o["main_obs"]["records"][1].__setitem__(1, 1260), "budget_changed"),
    (lambda o: o["main_obs"]["records"][0][0].update(bs=None), "budget_changed"),
    (lambda o: o["main_obs"]["records"][0][0].update(opt="torch.optim.sgd.SGD"), "budget_changed"),
    (lambda o: o["main_obs"]["records"][0][0].update(weight_decay=0.01), "budget_changed"),
    (lambda o: o["grader_train"].update(worst_loss=1e4), "wrong_loss"),
    (lambda o: o["grader_train"].update(worst_grad=None), "wrong_loss"),
    (lambda o: o["grader_train"].update(loss_error="TypeError"), "wrong_loss"),
    (lambda o: o["grader_train"].update(agree=0.5), "architecture_changed"),
    (lambda o: o["weights"].update(b2=[0.0] * 10), "low_accuracy"),
    (lambda o: o["weights"].update(W2=[[float("nan")] * 64] * 10), "low_accuracy"),
    (lambda o: o["weights"].update(W1=[1.0, 2.0]), "bad_result"),
    (lambda o: o.pop("weights"), "bad_result"),
])
def test_each_category(mutate, cat):
    out, ctx = _good()
    mutate(out)
    v = T.verdict(out, ctx)
    assert v is not None and v[0] == cat, v


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c, max_size=4)), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_crashes(out):
    out_c, ctx = _good()
    v = T.verdict(out, ctx)
    assert v is None or v[0] in T.CATEGORIES


KEYS = [("nonce",), ("errors",), ("data_digest",), ("arch",), ("arch", "linears"),
        ("arch", "n_params"), ("main_obs",), ("main_obs", "records"), ("grader_train",),
        ("grader_train", "steps"), ("grader_train", "worst_loss"), ("grader_train", "agree"),
        ("grader_train", "loss_error"), ("weights",), ("weights", "W1"), ("weights", "b2")]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KEYS), json_values)
def test_one_field_replaced_never_crashes(path, value):
    out, ctx = _good()
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    v = T.verdict(out, ctx)
    assert v is None or v[0] in T.CATEGORIES
    if v is None:   # a pass must only come from values that mean the same as the good ones
        good, _ = _good()
        g = good
        for k in path:
            g = g[k]
        assert _same(value, g) or path[-1] in ("errors", "loss_error", "worst_loss", "agree", "steps",
                                                "W1", "b2")


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isfinite(a) and a == b
    return a == b


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, -1, 0, 1, 3, 63, 64, 65, 2**40]),
                          st.integers(-5, 2000)), max_size=5),
       st.sampled_from([0.001, 0.01, float("nan"), float("inf"), -0.001, "0.001", None, True]))
def test_budget_records_never_crash(recs, lr):
    out, ctx = _good()
    out["main_obs"]["records"] = [[{**_rec(bs, 1)[0], "lr": lr}, n] for bs, n in recs]
    v = T.verdict(out, ctx)
    assert v is not None and v[0] in ("budget_changed", "bad_result")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["W1", "b1", "W2", "b2"]),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                 st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=70),
                 st.text(max_size=5), st.none()))
def test_bad_weights_are_clean_failures(key, value):
    out, ctx = _good()
    out["weights"][key] = value
    v = T.verdict(out, ctx)
    assert v is not None and v[0] in ("bad_result", "low_accuracy")


def test_heldout_accuracy_tolerates_junk():
    out, ctx = _good()
    assert T.heldout_accuracy(out, ctx) == 1.0
    for junk in (None, {}, {"weights": None}, {"weights": {"W1": "x"}}, [], 3):
        assert T.heldout_accuracy(junk, ctx) is None
    assert T.verdict(copy.deepcopy(out), ctx) is None


def test_instances_are_deterministic_and_compile():
    styles = set()
    for seed in range(1, 21):
        text = T.make_script(seed)
        assert text == T.make_script(seed)
        compile(text, T.SCRIPT_NAME, "exec")
        p = T.instance_params(seed)
        styles.add(p["style"])
        assert len(p["decoys"]) == 2
    assert styles == {"sequential", "class"}
    a, b = T.grader_split(1)
    assert len(a) + len(b) == 1797 and not set(a) & set(b)
    assert (T.grader_split(1)[0] == a).all()
    assert T.expected_batches(1347) == {64: 420, 3: 20}
