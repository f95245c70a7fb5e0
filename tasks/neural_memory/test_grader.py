"""Property tests of neural_memory's pure verdict (grader JSON -> category): odd but legal JSON
must give a clean failure category (or a pass only when everything is right), never a crash."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neural_memory_task as T

pytestmark = pytest.mark.offline

NONCE = "cd" * 16
CFG = {"d_model": 8, "n_heads": 2, "d_key": 8, "d_value": 4, "T": 6, "p": 2, "q": 2, "pairs": 2,
       "x_seed": 1, "init_seed": 2}
CTX = {"nonce": NONCE, "cfg": CFG}


def _simulate(X, state, P, forget, surprise=True, rng_seed=0):
    """A tiny numpy neural memory (normalised key/value/query projections fixed by rng_seed)."""
    rng = np.random.default_rng(rng_seed)
    D, DK, DV = CFG["d_model"], CFG["d_key"], CFG["d_value"]
    Wk, Wv, Wq, Wo = (rng.normal(size=s) for s in ((D, DK), (D, DV), (D, DK), (DV, D)))
    B, T_ = X.shape[:2]
    k = X @ Wk
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    v = X @ Wv
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    q = X @ Wq
    M = np.zeros((B, DV, DK)) if state is None else state.copy()
    S, ys = [M], []
    for t in range(T_):
        pred = np.einsum("bvk,bk->bv", M, k[:, t])
        err = np.linalg.norm(v[:, t] - pred, axis=-1) / np.linalg.norm(v[:, t], axis=-1)
        s = 1 - np.exp(-1.7 * err) if surprise else np.full(B, 0.5)
        M = forget * M + s[:, None, None] * np.einsum("bv,bk->bvk", v[:, t], k[:, t])
        S.append(M)
        ys.append(np.einsum("bvk,bk->bv", M, q[:, t]) @ Wo)
    return {"y": np.stack(ys, 1).tolist(), "keys": k.tolist(), "values": v.tolist(),
            "states": np.stack(S, 1).tolist()}


def _good(forget=0.88, surprise=True):
    rng = np.random.default_rng(5)
    N, T_, D = CFG["pairs"], CFG["T"], CFG["d_model"]
    B, P, Q = 2 * N, CFG["p"], CFG["q"]
    X = rng.normal(size=(B, T_, D))
    for i in range(N):
        X[2 * i + 1] = X[2 * i]
        a, c = rng.normal(size=D), rng.normal(size=D)
        X[2 * i, P] = X[2 * i, P + 1] = a
        X[2 * i + 1, P], X[2 * i + 1, P + 1] = c, a
    X2 = X.copy()
    X2[:, Q + 1:] = rng.normal(size=X2[:, Q + 1:].shape)
    R = rng.normal(size=(B, CFG["d_value"], CFG["d_key"]))
    main = _simulate(X, None, P, forget, surprise)
    A = rng.normal(size=(N, 1, D))
    tok = _simulate(A, None, P, forget, surprise)
    k = np.asarray(tok["keys"])[:, 0]
    v = np.asarray(tok["values"])[:, 0]
    w = rng.normal(size=k.shape)
    w -= (w * k).sum(-1, keepdims=True) * k
    E = rng.normal(size=v.shape)[:, :, None] * w[:, None, :]
    pair = v[:, :, None] * k[:, None, :]
    E *= (np.linalg.norm(pair, axis=(1, 2)) / np.linalg.norm(E, axis=(1, 2)))[:, None, None]
    S0 = np.concatenate([E, E + 0.5 * pair, E + pair])
    A3 = np.concatenate([A, A, A])
    attn, mem = rng.normal(size=(B, T_, D)), np.asarray(main["y"])
    g = 1 / (1 + np.exp(-rng.normal(size=(B, T_, 1))))
    out = g * attn + (1 - g) * mem
    out2 = out.copy()
    out2[:, Q + 1:] += 1.0
    res = {"nonce": NONCE, "error": None, "probes": {
        "main": main, "causal": _simulate(X2, None, P, forget, surprise),
        "state_R": _simulate(X, R, P, forget, surprise), "R": R.tolist(),
        "known": _simulate(A3, S0, P, forget, surprise), "known_init": S0.tolist(),
        "decay": {"is_parameter": True, "registered": True, "grad": [0.3]},
        "decay_plus": _simulate(X, None, P, min(forget + 0.05, 1.0), surprise),
        "decay_minus": _simulate(X, None, P, forget - 0.1, surprise),
        "block": {"out": out.tolist(), "attn": attn.tolist(), "mem": mem.tolist(),
                  "gate": g.tolist(), "n_attn_calls": 1, "n_mem_calls": 1,
                  "hook_attn": attn.tolist(), "hook_mem": mem.tolist()},
        "block_causal": out2.tolist()}}
    return res


GOOD = _good()


def test_good_passes():
    a = T.analyse(copy.deepcopy(GOOD), CTX)
    assert a["first"] is None, a
    assert all(ok for ok, _ in a["checks"].values())


def test_no_surprise_is_caught():
    assert T.verdict(_good(surprise=False), CTX)[0] == "no_surprise_gate"


def test_wrong_nonce_and_error():
    bad = copy.deepcopy(GOOD)
    bad["nonce"] = "x"
    assert T.verdict(bad, CTX)[0] == "bad_result"
    assert T.verdict({"nonce": NONCE, "error": {"stage": "import model.py", "msg": "x"}},
                     CTX)[0] == "interface"
    assert T.verdict({"nonce": NONCE, "error": {"stage": "memory.decay", "msg": "x"}},
                     CTX)[0] == "decay"


def test_non_complementary_gate_is_caught():
    bad = copy.deepcopy(GOOD)
    b = bad["probes"]["block"]
    g, a, m = (np.asarray(b[k]) for k in ("gate", "attn", "mem"))
    b["out"] = (g * a + m).tolist()
    assert T.verdict(bad, CTX)[0] in ("gating", "recurrence")


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=5),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e308, -1e-320]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    st.lists(st.lists(st.floats(-2, 2), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
PATHS = [("probes", "main", "y"), ("probes", "main", "states"), ("probes", "known", "states"),
         ("probes", "known", "keys"), ("probes", "R"), ("probes", "decay", "grad"),
         ("probes", "decay", "is_parameter"), ("probes", "decay_plus"), ("probes", "decay_minus", "states"),
         ("probes", "block", "gate"), ("probes", "block", "out"), ("probes", "block", "hook_mem"),
         ("probes", "block", "n_attn_calls"), ("probes", "block_causal"), ("probes", "known_init"),
         ("probes",), ("error",), ("nonce",), ("probes", "state_R", "values")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=ODD)
def test_odd_values_never_crash(path, value):
    out = copy.deepcopy(GOOD)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    v = T.verdict(out, CTX)
    assert v is None or (v[0] in T.CATEGORIES and isinstance(v[1], str))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from([("probes", "main", "y"), ("probes", "main", "states"),
                             ("probes", "block", "gate"), ("probes", "known", "states")]),
       where=st.integers(0, 10**6), value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_entry_fails(path, where, value):
    out = copy.deepcopy(GOOD)
    node = out
    for key in path:
        node = node[key]
    a = np.asarray(node, dtype=float)
    a.flat[where % a.size] = value
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = a.tolist()
    v = T.verdict(out, CTX)
    assert v is not None and v[0] in T.CATEGORIES


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top=st.one_of(st.none(), st.lists(st.integers(), max_size=3), st.text(max_size=10),
                     st.dictionaries(st.text(max_size=5), ODD, max_size=4)))
def test_odd_top_level(top):
    v = T.verdict(top, CTX)
    assert v is not None and v[0] in T.CATEGORIES
