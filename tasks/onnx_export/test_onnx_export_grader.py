"""Offline checks of the onnx_export grader's pure parts (no rollout fixture, no agent code).

* property tests (hypothesis) of onnx_export_lib.labels_from_result: whatever the model's first
  output looks like in the grader's JSON (NaN, inf, wrong length, wrong dtype, empty, huge), the
  verdict is labels in {0, 1} or a clean failure category, never a crash;
* the data generator is deterministic and never writes labels into test.csv;
* grade_onnx.py itself, run with ``python -I`` in a temp dir on small hand-built ONNX models
  (ours, not agent code): odd outputs and external data get the right category.
"""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import grade_onnx  # noqa: E402  (our grading script; importing it runs nothing)
import onnx_export_lib as lib  # noqa: E402

pytestmark = pytest.mark.offline

CATEGORIES = set(lib.GRADER_CATEGORIES)


def enc(arr: np.ndarray) -> dict:
    """What grade_onnx.py writes for an ndarray (its own encode function)."""
    return grade_onnx.encode(arr)


def result_for(full: np.ndarray, n: int, subs=((0, 1), (1, 3))) -> dict:
    res = {"n": n, **enc(full), "subs": []}
    for a, b in subs:
        if b <= n:
            part = full[a:b] if full.ndim and full.shape[:1] == (n,) else full
            res["subs"].append({"start": a, "stop": b, **enc(part)})
    return res


def check(res: dict, n: int):
    try:
        labels = lib.labels_from_result(res, n)
    except lib.Verdict as v:
        assert v.category in CATEGORIES, v.category
        return None
    assert isinstance(labels, np.ndarray) and labels.shape == (n,)
    assert set(np.unique(labels).tolist()) <= {0, 1}
    return labels


# ------------------------------------------------------------------ properties
floats_any = st.floats(allow_nan=True, allow_infinity=True, width=32)
dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_])


@st.composite
def model_outputs(draw):
    n = draw(st.integers(1, 12))
    shape = draw(st.sampled_from([(n,), (n, 1), (n, 2), (n, 3), (n + 1,), (n, 2, 1), (), (0,), (1,), (n - 1, 2)]))
    dtype = draw(dtypes)
    size = int(np.prod(shape)) if shape else 1
    raw = draw(st.lists(floats_any, min_size=size, max_size=size))
    with np.errstate(all="ignore"):
        arr = np.array(raw, dtype=np.float64)
        if np.dtype(dtype).kind in "iub":
            arr = np.nan_to_num(arr, nan=0, posinf=3, neginf=-3)
            arr = np.clip(arr, -5, 5)
        arr = arr.astype(dtype).reshape(shape)
    return n, arr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_outputs())
def test_any_numeric_output_gives_labels_or_a_category(case):
    n, arr = case
    check(result_for(arr, n), n)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10), st.data())
def test_corrupted_values_give_a_category(n, data):
    arr = np.linspace(-1, 1, n * 2, dtype=np.float32).reshape(n, 2)
    res = result_for(arr, n)
    junk = data.draw(st.one_of(
        st.none(), st.text(max_size=5), st.booleans(), st.sampled_from(["nan", "inf", "-inf"]),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
        st.floats(allow_nan=True, allow_infinity=True)))
    target = data.draw(st.sampled_from(["full", "sub"]))
    holder = res if target == "full" else res["subs"][0]
    i = data.draw(st.integers(0, len(holder["values"]) - 1))
    holder["values"][i] = junk
    out = check(res, n)
    if out is not None:  # only a plain finite number may be accepted
        assert isinstance(junk, (int, float)) and not isinstance(junk, bool) and math.isfinite(junk)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10), st.data())
def test_odd_metadata_gives_a_category(n, data):
    arr = np.zeros((n,), dtype=np.int64)
    res = result_for(arr, n)
    key = data.draw(st.sampled_from(["shape", "kind", "dtype", "values"]))
    res[key] = data.draw(st.one_of(
        st.none(), st.text(max_size=4), st.integers(-3, 3), st.lists(st.integers(-2, 20), max_size=3),
        st.lists(st.floats(allow_nan=True), max_size=3), st.booleans()))
    check(res, n)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["error", "detail"]), st.one_of(st.text(max_size=20), st.integers(), st.none())))
def test_error_results_map_to_known_categories(res):
    if "error" not in res:
        res["error"] = "bad_interface"
    with pytest.raises(lib.Verdict) as e:
        lib.labels_from_result(res, 5)
    assert e.value.category in CATEGORIES


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=20))
def test_logit_and_probability_reading(vals):
    n = len(vals)
    logits = np.array(vals, dtype=np.float32)
    probs = (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
    if (logits < 0).any() or (logits > 1).any():  # recognisably logits
        got = lib.labels_from_result(result_for(logits, n), n)
        assert (got == (logits >= 0)).all()
    got = lib.labels_from_result(result_for(probs[:, None], n), n)
    assert (got == (probs >= 0.5)).all()
    two = np.stack([-logits, logits], axis=1)
    assert (lib.labels_from_result(result_for(two, n), n) == (logits > 0)).all()


# ------------------------------------------------------------------ examples
def test_examples():
    n = 4
    lab = np.array([0, 1, 1, 0], dtype=np.int64)
    assert (lib.labels_from_result(result_for(lab, n), n) == lab).all()
    assert (lib.labels_from_result(result_for(lab.astype(bool), n), n) == lab).all()
    with pytest.raises(lib.Verdict, match="labels 0/1"):
        lib.labels_from_result(result_for(np.array([0, 2, 1, 0]), n), n)
    with pytest.raises(lib.Verdict) as e:
        lib.labels_from_result(result_for(np.array([0.1, np.nan, 0.2, 0.3]), n), n)
    assert e.value.category == "bad_interface"
    with pytest.raises(lib.Verdict):  # [N, 3]
        lib.labels_from_result(result_for(np.zeros((n, 3), np.float32), n), n)
    with pytest.raises(lib.Verdict):  # empty output
        lib.labels_from_result(result_for(np.zeros((0,), np.float32), n, subs=()), n)
    # a single row squeezed to a scalar: does not work for N = 1
    res = result_for(lab, n)
    res["subs"][0].update(enc(np.array(1, dtype=np.int64)))
    with pytest.raises(lib.Verdict, match="batch of 1"):
        lib.labels_from_result(res, n)
    # predictions that depend on the batch size
    res = result_for(np.array([-1.0, 2, 3, -4, 5, 6], np.float32), 6, subs=((0, 1), (1, 6)))
    res["subs"][1]["values"] = [-2.0, -3, 4, -5, -6]
    with pytest.raises(lib.Verdict, match="batch size"):
        lib.labels_from_result(res, 6)
    # grader-side bugs are errors, not the model's fault
    with pytest.raises(RuntimeError):
        lib.labels_from_result({"grader_error": "x"}, n)
    assert lib.accuracy(np.array([1, 0]), np.array([1, 1])) == 0.5
    assert lib.accuracy(np.array([1]), np.array([1, 1])) == 0.0


def test_data_is_deterministic_and_test_csv_has_no_labels(tmp_path):
    a = lib.make_data(3)
    lib._data.cache_clear()
    b = lib.make_data(3)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(lib.make_data(4)[0], a[0])
    Xtr, ytr, Xte, yte = a
    assert Xtr.shape == (lib.N_TRAIN, 10) and Xte.shape == (lib.N_TEST, 10)
    test_csv = lib.csv_text(Xte, None)
    assert test_csv.splitlines()[0] == ",".join(f"f{i}" for i in range(10))
    assert "target" not in test_csv
    parsed = np.loadtxt(io.StringIO(test_csv), delimiter=",", skiprows=1)
    assert np.array_equal(parsed, Xte)  # the grader's features are exactly test.csv's values
    train = np.loadtxt(io.StringIO(lib.csv_text(Xtr, ytr)), delimiter=",", skiprows=1)
    assert np.array_equal(train[:, 10], ytr) and np.array_equal(train[:, :10], Xtr)
    assert 0.4 < ytr.mean() < 0.6


# ------------------------------------------------------------------ grade_onnx.py on our own models
def _model(kind: str) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])
    W = numpy_helper.from_array(np.eye(10, 2, dtype=np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
    out_type, out_shape = TensorProto.FLOAT, ["N", 2]
    inits = [W]
    if kind == "nan":
        inits.append(numpy_helper.from_array(np.array([np.nan], np.float32), "c"))
        nodes.append(helper.make_node("Mul", ["y", "c"], ["z"]))
    elif kind == "int_labels_0_2":
        nodes.append(helper.make_node("ArgMax", ["y"], ["a"], axis=1, keepdims=0))
        inits.append(numpy_helper.from_array(np.array(2, np.int64), "two"))
        nodes.append(helper.make_node("Mul", ["a", "two"], ["z"]))
        out_type, out_shape = TensorProto.INT64, ["N"]
    elif kind == "string":
        nodes.append(helper.make_node("Cast", ["y"], ["z"], to=TensorProto.STRING))
        out_type = TensorProto.STRING
    elif kind == "external":
        W.ClearField("raw_data")
        W.data_location = TensorProto.EXTERNAL
        for k, v in {"location": "/etc/passwd", "offset": "0", "length": "80"}.items():
            e = W.external_data.add()
            e.key, e.value = k, v
        nodes.append(helper.make_node("Identity", ["y"], ["z"]))
    elif kind == "two_inputs":
        nodes.append(helper.make_node("Add", ["y", "y2"], ["z"]))
    elif kind == "ok":
        nodes.append(helper.make_node("Identity", ["y"], ["z"]))
    inputs = [inp] + ([helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["N", 2])] if kind == "two_inputs" else [])
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("z", out_type, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.mark.parametrize("kind,expected", [
    ("ok", None), ("nan", "bad_interface"), ("int_labels_0_2", "bad_interface"),
    ("string", "bad_interface"), ("external", "external_data"), ("two_inputs", "bad_interface"),
    ("garbage", "invalid_model"),
])
def test_grade_script_on_hand_built_models(tmp_path, kind, expected):
    X = np.random.RandomState(0).randn(80, 10).astype(np.float32)
    (tmp_path / "model.onnx").write_bytes(b"\x00not a protobuf\xff" * 10 if kind == "garbage" else _model(kind))
    (tmp_path / "X.npy").write_bytes(lib.features_npy(X))
    (tmp_path / "g.py").write_text((HERE / "grade_onnx.py").read_text())
    subprocess.run([sys.executable, "-I", "g.py"], cwd=tmp_path, check=True, timeout=120,
                   env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    res = json.loads((tmp_path / "result.json").read_text())
    if expected is None:
        labels = lib.labels_from_result(res, 80)
        assert (labels == (X[:, 1] > X[:, 0])).all()
    else:
        with pytest.raises(lib.Verdict) as e:
            lib.labels_from_result(res, 80)
        assert e.value.category == expected, e.value.message
