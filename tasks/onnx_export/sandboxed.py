"""Trusted grading script of onnx_export: runs as `python -I` in a fresh sandbox holding only
model.onnx (the agent's artifact, as data) and X.npy (features, no labels).

It never trusts the model: the ONNX file is parsed with the onnx package first, any tensor
stored as external data anywhere in the model is rejected before onnxruntime sees the file, and
onnxruntime gets the model as bytes, created with the working directory an empty folder (so it
has nothing to resolve external paths against). Whatever happens, it
writes result.json: {"error": <category>, "detail": str} or the first output of the model as
plain numbers, for the test (in the pytest process) to turn into labels.
"""
import json
import math
import os
import sys
import traceback

MAX_MODEL_BYTES = 100 * 1024 * 1024
# batch sizes tried besides the full set: a model must accept any N
SUB_BATCHES = ((0, 1), (1, 8), (8, 72))

RESULT = os.path.abspath("result.json")  # fixed before the chdir into the empty directory


def write(res):
    with open(RESULT, "w") as fh:
        json.dump(res, fh, allow_nan=False)


def err(cat, detail):
    write({"error": cat, "detail": str(detail)[:2000]})
    sys.exit(0)


def external_tensors(msg, path="model"):
    """(path, TensorProto) of every tensor anywhere in ``msg`` that is stored as external data.

    Walks every message field of the protobuf generically (graph initializers, sparse
    initializers, node attributes, subgraphs of If/Loop/Scan, model-local functions, their
    attribute defaults and subgraphs, training info...), so no place a tensor can sit is missed.
    """
    from onnx import TensorProto

    if isinstance(msg, TensorProto):
        if msg.data_location == TensorProto.EXTERNAL or len(msg.external_data) > 0:
            yield path, msg
    for fd, val in msg.ListFields():
        if fd.type != fd.TYPE_MESSAGE:
            continue
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED
        if repeated:
            for i, v in enumerate(val):
                yield from external_tensors(v, f"{path}.{fd.name}[{i}]")
        else:
            yield from external_tensors(val, f"{path}.{fd.name}")


def main():
    import numpy as np

    try:
        X = np.load("X.npy", allow_pickle=False)
    except Exception as e:  # the harness's own file: a broken one is a grader bug
        write({"grader_error": f"cannot read X.npy: {e!r}"})
        return
    n = int(X.shape[0])

    try:
        size = os.lstat("model.onnx").st_size
    except OSError as e:
        err("no_artifact", f"model.onnx missing in the grading sandbox: {e!r}")
    if size > MAX_MODEL_BYTES:
        err("invalid_model", f"model.onnx is {size} bytes (limit {MAX_MODEL_BYTES})")
    with open("model.onnx", "rb") as fh:
        raw = fh.read()

    try:
        import onnx
        from onnx import TensorProto

        model = onnx.load_model_from_string(raw)
    except Exception as e:
        err("invalid_model", f"model.onnx is not a valid ONNX protobuf: {e!r}")
    try:
        for where, t in external_tensors(model):
            loc = {kv.key: kv.value for kv in t.external_data}.get("location", "?")
            err("external_data",
                f"tensor {t.name!r} at {where} is stored as external data (location {loc!r}); "
                "model.onnx must be self-contained")
    except SystemExit:
        raise
    except Exception as e:
        err("invalid_model", f"cannot inspect model.onnx: {e!r}")

    # the session is created in an empty directory, from bytes: nothing to resolve a path against
    empty = os.path.abspath("empty")
    os.mkdir(empty)
    os.chdir(empty)
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(raw, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as e:
        err("invalid_model", f"onnxruntime cannot load model.onnx: {e!r}")

    inputs = sess.get_inputs()
    if len(inputs) != 1:
        err("bad_interface",
            f"model has {len(inputs)} inputs {[i.name for i in inputs]}; expected exactly one")
    inp = inputs[0]
    if inp.type != "tensor(float)":
        err("bad_interface", f"input {inp.name!r} has type {inp.type}; expected tensor(float)")
    outs = sess.get_outputs()
    if not outs:
        err("bad_interface", "model has no outputs")

    def run(xb):
        try:
            y = sess.run([outs[0].name], {inp.name: xb})[0]
        except Exception as e:
            err("bad_interface",
                f"running the model on float32 input of shape {list(xb.shape)} failed "
                f"(declared input shape {inp.shape}): {str(e)[:800]}")
        if not isinstance(y, np.ndarray):
            err("bad_interface", f"first output is a {type(y).__name__}, not a tensor")
        return y

    y = run(np.ascontiguousarray(X, dtype=np.float32))
    subs = []
    for a, b in SUB_BATCHES:
        if b <= n:
            subs.append({"start": a, "stop": b, **encode(run(np.ascontiguousarray(X[a:b], dtype=np.float32)))})
    write({"n": n, "input_shape": [d if isinstance(d, int) else str(d) for d in (inp.shape or [])],
           "output_name": outs[0].name, **encode(y), "subs": subs})


def encode(y):
    """An ndarray as plain JSON: dtype kind, shape, flat values (non-finite as strings)."""
    import numpy as np

    kind = y.dtype.kind  # b, i, u, f, c, U, S, O, ...
    if kind not in "biuf":
        return {"dtype": str(y.dtype), "kind": kind, "shape": list(y.shape), "values": None}
    flat = y.reshape(-1)
    if flat.size > 2 * max(1, y.shape[0] if y.ndim else 1):  # not [N], [N, 1] or [N, 2]: shape only
        return {"dtype": str(y.dtype), "kind": kind, "shape": list(y.shape), "values": None}
    vals = []
    for v in flat.tolist():
        if isinstance(v, float) and not math.isfinite(v):
            vals.append("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        else:
            vals.append(v if not isinstance(v, bool) else int(v))
    return {"dtype": str(y.dtype), "kind": kind, "shape": list(y.shape), "values": vals}


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        write({"error": "invalid_model", "detail": traceback.format_exc()[-2000:]})
