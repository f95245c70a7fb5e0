"""Offline checks of the memory_optimizations grader's pure parts (no rollout fixture, no agent code).

* property tests (hypothesis) of memopt_lib.techniques / memopt_lib.judge: whatever the tracer
  records look like (NaN, inf, wrong length, wrong types, empty, missing keys), the verdict is
  scores or a clean failure category, never a crash;
* the data generator is deterministic and the workspace never holds the held-out split;
* grade_memopt.py + tracer.py, run with ``python -I`` in a temp dir on our own unmodified baseline
  for two steps: the nonce is echoed (and its file deleted), and none of the nine techniques is
  observed.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import memopt_lib as lib  # noqa: E402

pytestmark = pytest.mark.offline

N = 12
Y = np.arange(N) % 10
GOOD_IV = {"backward": 4, "fw": [16, 16, 16, 16], "autocast": True, "recompute": 3, "sdpa": True,
           "inplace": True, "channels_last": True, "grads_none": True, "fused": True, "del_tensor": 2}
BASE_IV = {"backward": 1, "fw": [64], "autocast": False, "recompute": 0, "sdpa": False,
           "inplace": False, "channels_last": False, "grads_none": False, "fused": False, "del_tensor": 0}


def logits_for(labels, margin=3.0):
    return [[margin if j == int(c) else 0.0 for j in range(10)] for c in labels]


def run(ivs, logits=None, ok=True):
    return {"run": {"ok": ok, "intervals": ivs, "logits": logits if logits is not None else logits_for(Y)}}


BASE = run([BASE_IV] * 5, logits_for(Y, 2.0))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 200), st.floats(allow_nan=True),
                    st.text(max_size=5), st.sampled_from(["nan", "inf", "-inf"]))
json_vals = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=5),
                                                      st.dictionaries(st.text(max_size=8), c, max_size=5)),
                         max_leaves=20)
iv_keys = st.sampled_from(sorted(GOOD_IV))
intervals = st.one_of(json_vals, st.lists(st.one_of(
    st.dictionaries(iv_keys, json_vals, max_size=10),
    st.builds(lambda k, v: {**GOOD_IV, k: v}, iv_keys, json_vals), json_vals), max_size=8))


@given(intervals)
@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
def test_techniques_never_crash(ivs):
    res = lib.techniques(ivs)
    assert set(res) == set(lib.TECHNIQUES)
    assert all(v is True or v is False for v in res.values())


def test_techniques_all_and_none():
    assert all(lib.techniques([GOOD_IV] * 3).values())
    assert not any(lib.techniques([BASE_IV] * 3).values())
    assert not any(lib.techniques([]).values())
    # one update without the technique is enough to lose it
    assert lib.techniques([GOOD_IV, {**GOOD_IV, "sdpa": False}])["sdpa"] is False
    # micro-batches must be smaller than 64 and add up to 64
    assert lib.techniques([{**GOOD_IV, "fw": [64, 64]}])["micro_batching"] is False
    assert lib.techniques([{**GOOD_IV, "fw": [16, 16]}])["micro_batching"] is False
    assert lib.techniques([{**GOOD_IV, "fw": [32, 32]}])["micro_batching"] is True
    # either fused or freed gradients on every update
    assert lib.techniques([{**GOOD_IV, "fused": False}])["optimizer_memory"] is True
    assert lib.techniques([{**GOOD_IV, "fused": False, "grads_none": False}])["optimizer_memory"] is False
    # bools are not counts
    assert lib.techniques([{**GOOD_IV, "backward": True}])["gradient_accumulation"] is False


def verdict(agent, steps=5):
    try:
        return lib.judge(BASE, agent, Y, steps=steps)
    except lib.Verdict as v:
        assert v.category in lib.CATEGORIES, v.category
        return v.category


rows = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 5),
                          st.booleans(), st.none(), st.text(max_size=3), st.sampled_from(["nan", "inf"])),
                min_size=0, max_size=12)
logit_tables = st.one_of(json_vals, st.lists(rows, min_size=0, max_size=14),
                         st.lists(st.lists(st.floats(-50, 50), min_size=10, max_size=10),
                                  min_size=N, max_size=N))


@given(logit_tables, intervals, st.sampled_from([True, False, None, 1, "true"]))
@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
def test_judge_never_crashes(logits, ivs, ok):
    out = verdict({"run": {"ok": ok, "intervals": ivs, "logits": logits}})
    assert isinstance(out, (dict, str))


@given(json_vals)
@settings(max_examples=80)
def test_judge_odd_result_objects(obj):
    out = verdict(obj)
    assert out == "script_error" or isinstance(out, dict)


def test_judge_categories():
    good = run([GOOD_IV] * 5)
    assert verdict(good)["n_techniques"] == 9
    assert verdict(run([GOOD_IV] * 4)) == "wrong_budget"
    assert verdict(run([GOOD_IV] * 6)) == "wrong_budget"
    assert verdict(run([BASE_IV] * 5)) == "too_few_techniques"
    five = {**GOOD_IV, "fw": [64], "backward": 1, "del_tensor": 0, "inplace": False}
    assert verdict(run([five] * 5)) == "too_few_techniques"
    assert verdict(run([{**five, "inplace": True}] * 5))["n_techniques"] == 6
    bad = logits_for(Y)
    bad[3][2] = "nan"
    assert verdict(run([GOOD_IV] * 5, bad)) == "broken_training"
    assert verdict(run([GOOD_IV] * 5, [[0.0] * 10] * N)) == "broken_training"    # uniform = chance
    assert verdict(run([GOOD_IV] * 5, logits_for((Y + 1) % 10))) == "broken_training"
    assert verdict(run([GOOD_IV] * 5, logits_for(Y)[:-1])) == "script_error"
    assert verdict({"run": {"ok": False, "error": "boom"}}) == "script_error"
    assert verdict({"run": "forged"}) == "script_error"
    assert verdict({}) == "script_error"
    with pytest.raises(RuntimeError):
        lib.judge({"run": {"ok": False}}, good, Y, steps=5)


def test_eval_scores():
    ce, acc = lib.eval_scores(np.array(logits_for(Y), dtype=float), Y)
    assert acc == 1.0 and 0 < ce < 0.5
    ce, acc = lib.eval_scores(np.zeros((N, 10)), Y)
    assert abs(ce - np.log(10)) < 1e-9


def test_data_deterministic_and_split():
    a, b = lib.make_data(3), lib.make_data(3)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    Xtr, ytr, Xe, ye = a
    assert Xtr.shape[1:] == (3, 8, 8) and Xtr.dtype == np.float32 and Xe.shape == (lib.N_EVAL, 3, 8, 8)
    assert set(np.unique(ytr)) == set(range(10)) and ye.shape == (lib.N_EVAL,)
    assert not np.array_equal(lib.make_data(4)[0], Xtr)
    import test_memory_optimizations as t
    with tempfile.TemporaryDirectory() as d:
        t.make_workspace(Path(d), 3)
        assert sorted(p.name for p in Path(d).iterdir()) == ["data.npz", "train.py"]
        z = np.load(io.BytesIO((Path(d) / "data.npz").read_bytes()))
        assert sorted(z.files) == ["X", "y"] and np.array_equal(z["X"], Xtr)
        # no held-out image is in the training data
        tr = {row.tobytes() for row in Xtr}
        assert not any(row.tobytes() in tr for row in Xe)


def test_tracer_sees_nothing_in_the_baseline():
    Xtr, ytr, Xe, _ = lib.make_data(1)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "train.py").write_text(lib.BASELINE)
        (d / "tracer.py").write_text(lib.TRACER)
        (d / "grade.py").write_text(lib.GRADER)
        (d / "data.npz").write_bytes(lib.npz_bytes(X=Xtr, y=ytr))
        (d / "X_eval.npy").write_bytes(lib.npy_bytes(Xe[:20]))
        (d / "nonce.txt").write_text("abc123")
        subprocess.run([sys.executable, "-I", "grade.py", "2", "1", "300"], cwd=d, timeout=400, check=True)
        res = json.loads((d / "result.json").read_text())
        assert res["nonce"] == "abc123" and not (d / "nonce.txt").exists()
        rec = res["run"]
    assert rec["ok"] is True, rec
    assert len(rec["intervals"]) == 2 and len(rec["logits"]) == 20
    assert not any(lib.techniques(rec["intervals"]).values()), rec["intervals"]
