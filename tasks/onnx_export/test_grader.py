"""Offline checks of the onnx_export grader's pure parts (no rollout fixture, no agent code).

* property tests (hypothesis) of grader.labels_from_result: whatever the model's first output
  looks like in the sandboxed script's JSON (NaN, inf, wrong length, wrong dtype, empty, huge),
  the verdict is labels in {0, 1} or a clean failure category, never a crash;
* instances: deterministic per instance, different across instances, test.csv holds no labels,
  the hidden rows appear nowhere in the workspace (several instances);
* sandboxed.py itself, run with ``python -I`` in a temp dir on small hand-built ONNX models
  (ours, not agent code): odd outputs and external data anywhere get the right category.
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

from . import grader as lib
from . import sandboxed  # our grading script; importing it runs nothing
from .task import N_FEATURES, N_HIDDEN, N_TEST, N_TRAIN, csv_text, make_instance, make_workspace

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.offline

CATEGORIES = set(lib.GRADER_CATEGORIES)
INSTANCES = [1, 2**62 + 12345, 7_316_092_451_203_889_117]


def enc(arr: np.ndarray) -> dict:
    """What sandboxed.py writes for an ndarray (its own encode function)."""
    return sandboxed.encode(arr)


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


@pytest.mark.parametrize("instance", INSTANCES)
def test_instance_is_deterministic_and_hidden_rows_stay_hidden(tmp_path, instance):
    a = make_instance(instance)
    if instance == INSTANCES[0]:  # determinism: a second, uncached generation
        b = make_instance.__wrapped__(instance)
        for f in ("X_train", "y_train", "X_test", "y_test", "X_hidden", "y_hidden"):
            assert np.array_equal(getattr(a, f), getattr(b, f))
        assert not np.array_equal(make_instance(instance + 1).X_train, a.X_train)
    assert a.X_train.shape == (N_TRAIN, N_FEATURES) and a.X_test.shape == (N_TEST, N_FEATURES)
    assert a.X_hidden.shape == (N_HIDDEN, N_FEATURES)
    make_workspace(tmp_path, instance)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]
    test_csv = (tmp_path / "test.csv").read_text()
    assert test_csv.splitlines()[0] == ",".join(f"f{i}" for i in range(10))
    assert "target" not in test_csv
    parsed = np.loadtxt(io.StringIO(test_csv), delimiter=",", skiprows=1)
    assert np.array_equal(parsed, a.X_test)  # the grader's test rows are exactly test.csv's values
    train = np.loadtxt(tmp_path / "train.csv", delimiter=",", skiprows=1)
    assert np.array_equal(train[:, 10], a.y_train) and np.array_equal(train[:, :10], a.X_train)
    assert 0.4 < a.y_train.mean() < 0.6 and 0.4 < a.y_hidden.mean() < 0.6
    # no hidden row occurs in the workspace
    seen = set(map(tuple, np.concatenate([a.X_train, a.X_test]).tolist()))
    assert not any(tuple(r) in seen for r in a.X_hidden.tolist())
    X, y, hidden = lib.eval_rows(instance)
    assert hidden.sum() == N_HIDDEN and (~hidden).sum() == N_TEST
    assert np.array_equal(np.sort(X[~hidden][:, 0]), np.sort(a.X_test[:, 0]))
    assert np.array_equal(np.sort(X[hidden][:, 0]), np.sort(a.X_hidden[:, 0]))


def test_csv_text_round_trips():
    X = make_instance(3).X_test[:5]
    assert np.array_equal(np.loadtxt(io.StringIO(csv_text(X, None)), delimiter=",", skiprows=1), X)


# ------------------------------------------------------------------ sandboxed.py on our own models
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
    elif kind == "external_in_function_subgraph":
        fn = _function_with_external("subgraph", "X.npy")
        nodes.append(helper.make_node("Bias", ["x"], ["b"], domain="hack"))
        nodes.append(helper.make_node("Add", ["y", "b"], ["z"]))
        g = helper.make_graph(nodes, "g", [inp], [helper.make_tensor_value_info("z", out_type, out_shape)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("hack", 1)],
                              functions=[fn])
        m.ir_version = 8
        return m.SerializeToString()
    elif kind == "two_inputs":
        nodes.append(helper.make_node("Add", ["y", "y2"], ["z"]))
    elif kind == "ok":
        nodes.append(helper.make_node("Identity", ["y"], ["z"]))
    inputs = [inp] + ([helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["N", 2])] if kind == "two_inputs" else [])
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("z", out_type, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


HAND_BUILT = {
    "ok": None, "nan": "bad_interface", "int_labels_0_2": "bad_interface", "string": "bad_interface",
    "external": "external_data", "two_inputs": "bad_interface", "garbage": "invalid_model",
    "external_in_function_subgraph": "external_data",
}
# runs sandboxed.py once per directory in ONE interpreter (onnxruntime is imported once): each
# run is the script's own __main__, from a fresh module namespace, in its own directory
DRIVER = """
import os, runpy, sys
for d in sys.argv[1:]:
    os.chdir(d)
    try:
        runpy.run_path("g.py", run_name="__main__")
    except SystemExit as e:
        assert e.code in (None, 0), e.code
"""


@pytest.fixture(scope="module")
def hand_built_results(tmp_path_factory) -> dict:
    X = np.random.RandomState(0).randn(80, 10).astype(np.float32)
    root = tmp_path_factory.mktemp("hand_built")
    dirs = []
    for kind in HAND_BUILT:
        d = root / kind
        d.mkdir()
        (d / "model.onnx").write_bytes(b"\x00not a protobuf\xff" * 10 if kind == "garbage" else _model(kind))
        (d / "X.npy").write_bytes(lib.features_npy(X))
        (d / "g.py").write_text(lib.SANDBOXED)
        dirs.append(str(d))
    (root / "driver.py").write_text(DRIVER)
    subprocess.run([sys.executable, "-I", str(root / "driver.py"), *dirs], check=True, timeout=300,
                   env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    return {kind: json.loads((root / kind / "result.json").read_text()) for kind in HAND_BUILT}


@pytest.mark.parametrize("kind,expected", list(HAND_BUILT.items()))
def test_grade_script_on_hand_built_models(hand_built_results, kind, expected):
    res = hand_built_results[kind]
    if expected is None:
        X = np.random.RandomState(0).randn(80, 10).astype(np.float32)
        labels = lib.labels_from_result(res, 80)
        assert (labels == (X[:, 1] > X[:, 0])).all()
    else:
        with pytest.raises(lib.Verdict) as e:
            lib.labels_from_result(res, 80)
        assert e.value.category == expected, e.value.message


# ------------------------------------------------------------------ external tensors anywhere
def _external(name: str, location: str, shape=(1,)):
    from onnx import TensorProto, numpy_helper

    t = numpy_helper.from_array(np.zeros(shape, np.float32), name)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in {"location": location, "offset": "0", "length": str(4 * int(np.prod(shape)))}.items():
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _branches(tensor):
    from onnx import TensorProto, helper, numpy_helper

    then = helper.make_graph([helper.make_node("Constant", [], ["w"], value=tensor)], "then", [],
                             [helper.make_tensor_value_info("w", TensorProto.FLOAT, [1])])
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["w0"], value=numpy_helper.from_array(np.zeros(1, np.float32), "w0"))],
        "else", [], [helper.make_tensor_value_info("w0", TensorProto.FLOAT, [1])])
    return then, other


def _function_with_external(where: str, location: str):
    from onnx import helper

    t = _external("w", location)
    if where == "attribute":
        body = [helper.make_node("Constant", [], ["bias"], value=t)]
    elif where == "subgraph":
        then, other = _branches(t)
        body = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
                helper.make_node("Greater", ["s", "s"], ["c"]),
                helper.make_node("If", ["c"], ["bias"], then_branch=then, else_branch=other)]
    elif where == "nested_subgraph":  # an If inside an If branch of the function
        then, other = _branches(t)
        inner = helper.make_node("If", ["c"], ["w"], then_branch=then, else_branch=other)
        from onnx import TensorProto
        outer_then = helper.make_graph([inner], "outer", [], [helper.make_tensor_value_info("w", TensorProto.FLOAT, [1])])
        _, outer_else = _branches(_external("unused", location))
        outer_else = _branches(helper.make_tensor("z", TensorProto.FLOAT, [1], [0.0]))[1]
        body = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
                helper.make_node("Greater", ["s", "s"], ["c"]),
                helper.make_node("If", ["c"], ["bias"], then_branch=outer_then, else_branch=outer_else)]
    else:  # attribute default of the function itself
        body = [helper.make_node("Identity", ["x"], ["bias"])]
    fn = helper.make_function("hack", "Bias", ["x"], ["bias"], body, [helper.make_opsetid("", 17)])
    if where == "attribute_default":
        fn.attribute_proto.append(helper.make_attribute("w", t))
    return fn


@pytest.mark.parametrize("where", ["initializer", "sparse_initializer", "node_attribute", "graph_subgraph",
                                   "function_attribute", "function_subgraph", "function_nested_subgraph",
                                   "function_attribute_default", "none"])
def test_external_tensors_are_found_anywhere(where):
    from onnx import TensorProto, helper, numpy_helper

    loc = "../../etc/passwd"
    inits, sparse, nodes, functions = [], [], [], []
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])
    out = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 10])
    if where == "initializer":
        inits.append(_external("W", loc))
    elif where == "sparse_initializer":
        vals = _external("v", loc)
        idx = numpy_helper.from_array(np.array([0], np.int64), "i")
        sparse.append(helper.make_sparse_tensor(vals, idx, [10]))
    elif where == "node_attribute":
        nodes.append(helper.make_node("Constant", [], ["c"], value=_external("c", loc)))
    elif where == "graph_subgraph":
        then, other = _branches(_external("w", loc))
        nodes.append(helper.make_node("If", ["cond"], ["w"], then_branch=then, else_branch=other))
    elif where.startswith("function_"):
        functions.append(_function_with_external(where[len("function_"):], loc))
    nodes.append(helper.make_node("Identity", ["x"], ["z"]))
    g = helper.make_graph(nodes, "g", [inp], [out], inits, sparse_initializer=sparse)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("hack", 1)],
                          functions=functions)
    found = list(sandboxed.external_tensors(m))
    if where == "none":
        assert found == []
    else:
        assert len(found) >= 1 and all(t.data_location == TensorProto.EXTERNAL for _, t in found), where
