"""double_softmax's trusted grading: the reference trainings and the verdict on saved weights.

Everything here runs in the pytest process on plain data; nothing imports or runs agent code.
The agent's ``train_digits.py`` runs only through ``rollout.run`` (see test_double_softmax.py),
and what comes back is ``weights.npz`` as bytes. Those bytes are parsed with
``np.load(allow_pickle=False)`` after checking the archive's member sizes, and compared with two
trainings this module computes itself in float64 numpy from the same instance:

* ``ce``: the task's training with the bug fixed (cross-entropy of the logits), which the saved
  weights must match within ``MATCH_TOL`` of the distance training moves them;
* ``bug``: the unfixed training (cross-entropy of the softmax), to name the failure ``wrong_loss``.

Measured drift of PyTorch float32 trainings (CE, log_softmax + NLL, log(softmax) + NLL, gather of
log-probabilities) from the float64 reference: <= 2.2e-5 of the training distance; the unfixed
training is 0.30-0.39 away (``python -m tasks.double_softmax.calibrate``).
"""
from __future__ import annotations

import functools
import io
import math
import zipfile
from dataclasses import dataclass

import numpy as np

from .task import BATCH_SIZE, EPOCHS, LR, PARAM_SHAPES, Instance, instance

MATCH_TOL = 1e-2          # ||w - w_ref|| <= MATCH_TOL * ||w_ref - w_init||
ACC_THRESHOLD = 0.88      # held-out accuracy of the saved weights (a backstop)
MAX_MEMBER_BYTES = 1 << 20
CATEGORIES = ("script_error", "sandbox_limit", "bad_weights", "architecture_changed",
              "wrong_loss", "wrong_training", "low_accuracy")
KEYS = tuple(PARAM_SHAPES)


class Verdict(Exception):
    """A failure with its category, raised by the checks below."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category, self.message = category, message


def train_reference(inst: Instance, loss: str = "ce", epochs: int = EPOCHS, lr: float = LR,
                    batch_size: int = BATCH_SIZE) -> dict[str, np.ndarray]:
    """The script's training in float64 numpy: the instance's data / 16, its initial weights, Adam
    (torch.optim.Adam's update, default betas/eps), mini-batches in ``default_rng(seed)``'s
    per-epoch permutation order. ``loss``: "ce" (the fix) or "bug" (CE of the softmax)."""
    P = {k: inst.init[k].astype(np.float64).copy() for k in KEYS}
    m = {k: np.zeros_like(v) for k, v in P.items()}
    s = {k: np.zeros_like(v) for k, v in P.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    X = inst.X_train.astype(np.float64) / 16.0
    y = inst.y_train
    n = len(X)
    rng = np.random.default_rng(inst.seed)
    t = 0
    for _ in range(epochs):
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            xb, yb, B = X[idx], y[idx], len(idx)
            a = xb @ P["W1"].T + P["b1"]
            h = np.maximum(a, 0.0)
            z = h @ P["W2"].T + P["b2"]
            p = _softmax(z)
            if loss == "ce":
                dz = p.copy()
                dz[np.arange(B), yb] -= 1.0
                dz /= B
            elif loss == "bug":
                q = _softmax(p)
                dp = q.copy()
                dp[np.arange(B), yb] -= 1.0
                dp /= B
                dz = p * (dp - (p * dp).sum(1, keepdims=True))
            else:
                raise ValueError(loss)
            da = (dz @ P["W2"]) * (a > 0)
            g = {"W1": da.T @ xb, "b1": da.sum(0), "W2": dz.T @ h, "b2": dz.sum(0)}
            t += 1
            bc1, bc2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
            for k in KEYS:
                m[k] = beta1 * m[k] + (1.0 - beta1) * g[k]
                s[k] = beta2 * s[k] + (1.0 - beta2) * g[k] ** 2
                P[k] = P[k] - (lr / bc1) * m[k] / (np.sqrt(s[k]) / math.sqrt(bc2) + eps)
    return P


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Reference:
    init: dict[str, np.ndarray]
    ce: dict[str, np.ndarray]
    bug: dict[str, np.ndarray]


@functools.lru_cache(maxsize=16)
def reference(instance_seed: int, which: str) -> Reference:
    """Both trainings of one instance (cached: solutions sharing an instance share them)."""
    inst = instance(instance_seed, which)
    return Reference(inst.init, train_reference(inst, "ce"), train_reference(inst, "bug"))


def load_weights(data: bytes) -> dict[str, np.ndarray]:
    """weights.npz bytes -> the four float64 arrays, or Verdict(bad_weights/architecture_changed).

    Only a plain .npz (a zip of .npy members, no pickles) of exactly W1, b1, W2, b2, float32 or
    float64, finite, each at most 1 MiB uncompressed, is read."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        sizes = {i.filename: i.file_size for i in zf.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise Verdict("bad_weights", f"weights.npz is not an .npz archive ({e})") from None
    names = sorted(sizes)
    want = sorted(f"{k}.npy" for k in KEYS)
    if names != want:
        raise Verdict("bad_weights", f"weights.npz holds {names}, expected exactly {want}")
    if max(sizes.values()) > MAX_MEMBER_BYTES:
        raise Verdict("bad_weights", "a member of weights.npz is larger than 1 MiB")
    out = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for k in KEYS:
                a = npz[k]
                if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
                    raise Verdict("bad_weights", f"{k} has dtype {getattr(a, 'dtype', type(a))}, "
                                                 "expected float32")
                out[k] = a
    except Verdict:
        raise
    except Exception as e:  # noqa: BLE001  (malformed .npy headers, object arrays, truncation)
        raise Verdict("bad_weights", f"weights.npz cannot be read as plain arrays: "
                                     f"{type(e).__name__}: {str(e)[:200]}") from None
    for k, shape in PARAM_SHAPES.items():
        if out[k].shape != shape:
            raise Verdict("architecture_changed", f"{k} has shape {out[k].shape}, expected {shape} "
                                                  "(Linear 64->64, ReLU, Linear 64->10)")
    for k in KEYS:
        if not np.isfinite(out[k]).all():
            raise Verdict("bad_weights", f"{k} contains NaN or inf")
    return {k: out[k].astype(np.float64) for k in KEYS}


def _flat(P: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(P[k], dtype=np.float64).ravel() for k in KEYS])


def distances(w: dict[str, np.ndarray], ref: Reference) -> tuple[float, float]:
    """(distance to the fixed training, distance to the unfixed one), each relative to how far
    that training moved the weights from their initial values."""
    w0, wf = _flat(ref.init), _flat(w)
    ce, bug = _flat(ref.ce), _flat(ref.bug)
    return (float(np.linalg.norm(wf - ce) / np.linalg.norm(ce - w0)),
            float(np.linalg.norm(wf - bug) / np.linalg.norm(bug - w0)))


def judge_weights(w: dict[str, np.ndarray], ref: Reference, where: str) -> float:
    """The distance to the fixed training, or Verdict(wrong_loss / wrong_training)."""
    d_ce, d_bug = distances(w, ref)
    if d_ce <= MATCH_TOL:
        return d_ce
    if d_bug <= MATCH_TOL:
        raise Verdict("wrong_loss", f"{where}: the saved weights are the unfixed training's "
                                    f"(cross-entropy of the softmax; distance {d_bug:.2e}); the "
                                    f"fixed training is {d_ce:.3f} away")
    raise Verdict("wrong_training", f"{where}: the saved weights are not what the specified "
                                    f"training gives (distance {d_ce:.3f} of the training's own "
                                    f"movement > {MATCH_TOL}; {d_bug:.3f} from the unfixed one)")


def heldout_accuracy(w: dict[str, np.ndarray], inst: Instance) -> float:
    h = np.maximum(inst.X_held.astype(np.float64) @ w["W1"].T + w["b1"], 0.0)
    pred = (h @ w["W2"].T + w["b2"]).argmax(axis=1)
    return float((pred == inst.y_held).mean())


def judge_run(exit_code: int | None, timed_out: bool, limit: str | None, stderr: str,
              weights: bytes | None, ref: Reference, where: str) -> dict[str, np.ndarray]:
    """One run's outcome and product -> the parsed weights, or a Verdict."""
    if timed_out or limit:
        raise Verdict("sandbox_limit", f"{where}: stopped by the sandbox's {limit or 'wall time'} "
                                       "limit")
    if exit_code != 0:
        raise Verdict("script_error", f"{where}: python train_digits.py exited {exit_code}: "
                                      f"{stderr[-600:]}")
    if weights is None:
        raise Verdict("script_error", f"{where}: the run exited 0 but did not save weights.npz")
    w = load_weights(weights)
    judge_weights(w, ref, where)
    return w
