"""Helpers of tasks/memory_optimizations shared by the test, the grader tests and calibration.

Pure code only (numpy + scikit-learn's bundled digits): the data generator and the verdict that
turns the grading sandbox's JSON into a category. Nothing here imports agent code.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BASELINE = (HERE / "baseline_train.py").read_text()
TRACER = (HERE / "tracer.py").read_text()
GRADER = (HERE / "grade_memopt.py").read_text()

STEPS = 60          # optimizer updates the grader asks train() for
BATCH = 64          # samples per optimizer update in the baseline
N_EVAL = 497        # held-out rows (features go to the grading sandbox, labels stay here)
MIN_TECHNIQUES = 6
# training counts as correct when the held-out cross-entropy of the optimized script is at most
# CE_FACTOR * baseline + CE_SLACK and its accuracy at least baseline - ACC_DROP (same seed, same data)
CE_FACTOR = 1.25
CE_SLACK = 0.15
ACC_DROP = 0.08

TECHNIQUES = (
    "mixed_precision", "activation_checkpointing", "sdpa", "gradient_accumulation",
    "optimizer_memory", "explicit_freeing", "micro_batching", "inplace_ops", "channels_last",
)
NOT_COUNTED = ("pinned_memory", "torch_compile")
CATEGORIES = (
    "no_artifact", "script_error", "wrong_budget", "broken_training", "too_few_techniques",
)


class Verdict(Exception):
    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def make_data(seed: int):
    """(X_train, y_train, X_eval, y_eval): sklearn's 8x8 digits, tinted into 3 channels, split
    per seed. float32 [N, 3, 8, 8] in [0, ~1.1], labels int64 in 0..9."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(1000 + int(seed))
    img = (d.images / 16.0).astype(np.float32)              # [1797, 8, 8]
    n = img.shape[0]
    tint = rng.uniform(0.35, 1.0, size=(n, 3, 1, 1)).astype(np.float32)
    X = img[:, None] * tint + rng.normal(0, 0.05, size=(n, 3, 8, 8)).astype(np.float32)
    X = X.astype(np.float32)
    y = d.target.astype(np.int64)
    perm = rng.permutation(n)
    ev, tr = perm[:N_EVAL], perm[N_EVAL:]
    return X[tr], y[tr], X[ev], y[ev]


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


# ----------------------------------------------------------------------------- verdict (pure)

def _logits(run, n: int) -> np.ndarray:
    """The eval logits of one run as a float64 [n, 10] array, or Verdict."""
    vals = run.get("logits")
    if not isinstance(vals, list) or len(vals) != n:
        raise Verdict("script_error", f"the trained model gave no [{n}, 10] eval output")
    out = np.empty((n, 10), dtype=np.float64)
    for i, row in enumerate(vals):
        if not isinstance(row, list) or len(row) != 10:
            raise Verdict("script_error", f"eval output row {i} does not hold 10 scores")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if v in ("nan", "inf", "-inf"):
                    raise Verdict("broken_training", "the trained model outputs NaN/inf")
                raise Verdict("script_error", f"eval output [{i},{j}] is not a number")
            out[i, j] = float(v)
    if not np.isfinite(out).all():
        raise Verdict("broken_training", "the trained model outputs NaN/inf")
    return out


def eval_scores(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of float logits [n, 10] against int labels [n]."""
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    ce = float(np.mean(lse - z[np.arange(len(labels)), labels]))
    acc = float(np.mean(logits.argmax(axis=1) == labels))
    return ce, acc


def _as_int(v, default=0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        return default
    return v


def techniques(intervals, batch: int = BATCH) -> dict[str, bool]:
    """Which techniques ran on *every* optimizer update. ``intervals`` is the tracer's list, one
    dict per optimizer step, with what happened since the previous step."""
    res = {t: False for t in TECHNIQUES}
    if not isinstance(intervals, list) or not intervals:
        return res
    ivs = [iv if isinstance(iv, dict) else {} for iv in intervals]

    def every(pred) -> bool:
        return all(pred(iv) for iv in ivs)

    def fws(iv):
        f = iv.get("fw")
        if not isinstance(f, list):
            return None
        out = [_as_int(b, -1) for b in f]
        return out if all(b > 0 for b in out) else None

    res["mixed_precision"] = every(lambda iv: iv.get("autocast") is True)
    res["activation_checkpointing"] = every(lambda iv: _as_int(iv.get("recompute")) > 0)
    res["sdpa"] = every(lambda iv: iv.get("sdpa") is True)
    res["gradient_accumulation"] = every(lambda iv: _as_int(iv.get("backward")) >= 2)
    res["optimizer_memory"] = (every(lambda iv: iv.get("fused") is True)
                               or every(lambda iv: iv.get("grads_none") is True))
    res["explicit_freeing"] = every(lambda iv: _as_int(iv.get("del_tensor")) > 0)
    res["micro_batching"] = every(
        lambda iv: (f := fws(iv)) is not None and len(f) >= 2 and max(f) < batch and sum(f) == batch)
    res["inplace_ops"] = every(lambda iv: iv.get("inplace") is True)
    res["channels_last"] = every(lambda iv: iv.get("channels_last") is True)
    return res


def judge(base_result, agent_result, y_eval: np.ndarray, steps: int = STEPS) -> dict:
    """Turn the two grading runs' result.json (baseline, agent) into scores, or raise
    Verdict(category, message). A broken *baseline* run is a grader bug: RuntimeError (the test
    errors, it does not fail)."""
    n = len(y_eval)
    base = base_result.get("run") if isinstance(base_result, dict) else None
    agent = agent_result.get("run") if isinstance(agent_result, dict) else None
    if not isinstance(base, dict) or base.get("ok") is not True:
        raise RuntimeError(f"baseline run failed in the grading sandbox: {str(base)[:500]}")
    try:
        base_ce, base_acc = eval_scores(_logits(base, n), y_eval)
    except Verdict as v:
        raise RuntimeError(f"baseline output unusable: {v}") from None
    if not isinstance(agent, dict):
        raise Verdict("script_error", "the optimized script's run left no record")
    if agent.get("ok") is not True:
        err = agent.get("error")
        raise Verdict("script_error", f"train.py failed under the grader: {str(err)[:1500]}")
    intervals = agent.get("intervals")
    if not isinstance(intervals, list):
        raise Verdict("script_error", "no record of optimizer steps")
    if len(intervals) != steps:
        raise Verdict("wrong_budget",
                      f"train(steps={steps}) made {len(intervals)} optimizer updates, not {steps}")
    ce, acc = eval_scores(_logits(agent, n), y_eval)
    scores = {"eval_ce": ce, "eval_acc": acc, "baseline_ce": base_ce, "baseline_acc": base_acc}
    ce_bound = CE_FACTOR * base_ce + CE_SLACK
    if not (ce <= ce_bound and acc >= base_acc - ACC_DROP):
        raise Verdict("broken_training",
                      f"held-out cross-entropy {ce:.3f} / accuracy {acc:.3f} after {steps} updates; "
                      f"baseline {base_ce:.3f} / {base_acc:.3f} (needs ce <= {ce_bound:.3f} and "
                      f"accuracy >= {base_acc - ACC_DROP:.3f})")
    tech = techniques(intervals)
    used = sorted(t for t, ok in tech.items() if ok)
    scores["techniques"] = used
    scores["n_techniques"] = len(used)
    if len(used) < MIN_TECHNIQUES:
        missing = sorted(t for t, ok in tech.items() if not ok)
        raise Verdict("too_few_techniques",
                      f"{len(used)} techniques observed on every update: {used or 'none'}; "
                      f"not observed: {missing}; need {MIN_TECHNIQUES}")
    return scores
