"""Trusted grading of onnx_export: the rows the model is run on, and the verdict on the JSON that
the sandboxed script (sandboxed.py, trusted code run with ``python -I`` in a fresh sandbox holding
only model.onnx and the features) writes.

Nothing here touches agent code or agent files: the rows and labels come from the secret instance,
and ``labels_from_result`` turns plain JSON into predicted labels (or a failure category).
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from .task import make_instance

SANDBOXED = Path(__file__).with_name("sandboxed.py").read_text()
MAX_MODEL_BYTES = 100 * 1024 * 1024
# batch sizes the grader also runs (rows [a, b)); labels must agree with the full run there
MAX_BATCH_MISMATCH = 1


class Verdict(Exception):
    """A failure with a category, raised by the pure verdict code (the test re-raises as fail())."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(f"[{category}] {message}")
        self.category = category
        self.message = message


# ---------------------------------------------------------------- evaluation rows
def eval_rows(instance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, hidden_mask): the hidden rows and the workspace's test rows, interleaved in an
    order drawn from the instance, fed to the model in one run. The verdict uses the hidden rows
    (features the agent never saw); the test rows give the workspace score reported beside it."""
    inst = make_instance(instance)
    X = np.concatenate([inst.X_hidden, inst.X_test])
    y = np.concatenate([inst.y_hidden, inst.y_test])
    hidden = np.arange(len(X)) < len(inst.X_hidden)
    perm = np.random.default_rng(np.random.SeedSequence([int(instance), 0xE7A1])).permutation(len(X))
    return X[perm], y[perm], hidden[perm]


def features_npy(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(X, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


# ---------------------------------------------------------------- verdict
GRADER_CATEGORIES = ("no_artifact", "invalid_model", "external_data", "bad_interface")


def _shape(res: dict, n: int | None, where: str) -> tuple[int, ...]:
    shape = res.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise Verdict("bad_interface", f"{where}: output shape {shape!r} is not a list of ints")
    shape = tuple(shape)
    ok = ((n,), (n, 1), (n, 2))
    if n is None or shape not in ok:
        raise Verdict(
            "bad_interface",
            f"{where}: first output has shape {list(shape)}; expected [{n}], [{n}, 1] or [{n}, 2]",
        )
    return shape


def _values(res: dict, shape: tuple[int, ...], where: str) -> np.ndarray:
    kind = res.get("kind")
    vals = res.get("values")
    if kind not in ("b", "i", "u", "f") or not isinstance(vals, list):
        raise Verdict("bad_interface", f"{where}: first output has dtype {res.get('dtype')!r}; expected a numeric tensor")
    size = math.prod(shape)
    if len(vals) != size:
        raise Verdict("bad_interface", f"{where}: output holds {len(vals)} values, shape {list(shape)} needs {size}")
    out = np.empty(size, dtype=np.float64)
    for i, v in enumerate(vals):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            if v in ("nan", "inf", "-inf"):
                raise Verdict("bad_interface", f"{where}: output contains {v} (row {i // max(1, size // shape[0]) if shape[0] else 0})")
            raise Verdict("bad_interface", f"{where}: output value {v!r} is not a number")
        fv = float(v)
        if not math.isfinite(fv):
            raise Verdict("bad_interface", f"{where}: output contains a non-finite value")
        out[i] = fv
    return out.reshape(shape)


def decide_mode(res: dict, n: int) -> str:
    """How to read the first output: 'argmax', 'labels', 'probability' or 'logit'."""
    shape = _shape(res, n, "full batch")
    vals = _values(res, shape, "full batch")
    if shape == (n, 2):
        return "argmax"
    if res["kind"] in ("b", "i", "u"):
        if not np.isin(vals, (0, 1)).all():
            bad = sorted(set(np.unique(vals).tolist()) - {0, 1})[:5]
            raise Verdict("bad_interface", f"integer output must be class labels 0/1; found {bad}")
        return "labels"
    if vals.size and vals.min() >= 0.0 and vals.max() <= 1.0:
        return "probability"
    return "logit"


def to_labels(res: dict, n: int, mode: str, where: str) -> np.ndarray:
    shape = _shape(res, n, where)
    vals = _values(res, shape, where)
    if mode == "argmax":
        if shape != (n, 2):
            raise Verdict("bad_interface", f"{where}: output shape {list(shape)} differs from the full batch's [N, 2]")
        return (vals[:, 1] > vals[:, 0]).astype(np.int64)
    if shape == (n, 2):
        raise Verdict("bad_interface", f"{where}: output shape {list(shape)} differs from the full batch's")
    flat = vals.reshape(n)
    if mode == "labels":
        if res.get("kind") not in ("b", "i", "u") or not np.isin(flat, (0, 1)).all():
            raise Verdict("bad_interface", f"{where}: output is not 0/1 labels like the full batch's")
        return flat.astype(np.int64)
    if mode == "probability":
        return (flat >= 0.5).astype(np.int64)
    if mode == "logit":
        return (flat >= 0.0).astype(np.int64)
    raise ValueError(mode)


def labels_from_result(result: Any, n: int) -> np.ndarray:
    """Predicted labels (int64 [n]) from sandboxed.py's JSON, or raise Verdict.

    Raises RuntimeError for a grader-side bug (``grader_error``), which the test lets through as
    an error rather than blaming the model.
    """
    if not isinstance(result, dict):
        raise Verdict("invalid_model", f"grader returned {type(result).__name__}, not an object")
    if "grader_error" in result:
        raise RuntimeError(f"grader bug: {result['grader_error']}")
    if "error" in result:
        cat = result["error"]
        detail = str(result.get("detail", ""))[:1500]
        if cat not in GRADER_CATEGORIES:
            cat = "invalid_model"
        raise Verdict(cat, detail)
    if result.get("n") != n:
        raise RuntimeError(f"grader bug: ran {result.get('n')!r} rows, expected {n}")
    mode = decide_mode(result, n)
    labels = to_labels(result, n, mode, "full batch")
    subs = result.get("subs")
    if not isinstance(subs, list) or not subs:
        raise RuntimeError("grader bug: no sub-batch results")
    mismatch = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise RuntimeError("grader bug: malformed sub-batch result")
        a, b = sub.get("start"), sub.get("stop")
        if not (isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= n):
            raise RuntimeError(f"grader bug: bad sub-batch bounds {a!r}..{b!r}")
        where = f"batch of {b - a} row(s)"
        if sub.get("kind") != result.get("kind"):
            raise Verdict("bad_interface", f"{where}: output dtype {sub.get('dtype')!r} differs from the full batch's {result.get('dtype')!r}")
        sl = to_labels(sub, b - a, mode, where)
        mismatch += int((sl != labels[a:b]).sum())
    if mismatch > MAX_BATCH_MISMATCH:
        raise Verdict(
            "bad_interface",
            f"predictions depend on the batch size: {mismatch} rows got a different label when "
            "run in small batches than in the full batch",
        )
    return labels


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    pred = np.asarray(pred)
    y = np.asarray(y)
    if pred.shape != y.shape or y.size == 0:
        return 0.0
    return float((pred == y).mean())
