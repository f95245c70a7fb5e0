"""Trusted grading of tasks/memory_optimizations: pure numpy, in the test process.

Inputs are data only: the weights.npz bytes a run of the agent's train.py left (read after its
sandbox was gone), the witness's peak RSS of that run, and the same of the harness's own baseline
runs. Weights are parsed with ``np.load(allow_pickle=False)`` and checked against the trusted
shapes, compared with the baseline's trained weights (same configuration, data and init), and
evaluated by a numpy forward of the architecture on held-out images whose labels never leave
this process. Nothing here imports torch or agent code.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np

from .task import param_shapes

MIN_SAVING = 2.0          # (baseline peak - floor) / (agent peak - floor), see README "Calibration"
MAX_DISTANCE = 0.15       # ||w - w_base|| / ||w_base - w_init|| over all weights
MAX_GROUP_DISTANCE = 0.3   # the same per part of the model
CE_SLACK = 0.05
ACC_DROP = 0.1
MAX_WEIGHTS_BYTES = 16 * 1024 * 1024

CATEGORIES = ("no_artifact", "script_error", "no_weights", "bad_weights", "broken_training",
              "wrong_training", "not_enough_saving")


class Verdict(Exception):
    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def parse_weights(blob: bytes, cfg: dict) -> dict[str, np.ndarray]:
    """The weights of an npz file as float64 arrays, or Verdict: exactly the trusted names and
    shapes, float32, no pickled objects; NaN/inf is broken_training."""
    if not isinstance(blob, (bytes, bytearray)) or not blob:
        raise Verdict("no_weights", "weights.npz is empty")
    if len(blob) > MAX_WEIGHTS_BYTES:
        raise Verdict("bad_weights", f"weights.npz is larger than {MAX_WEIGHTS_BYTES} bytes")
    want = param_shapes(cfg)
    try:
        with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as npz:
            names = list(npz.files)
            if sorted(names) != sorted(want):
                extra, lack = sorted(set(names) - set(want)), sorted(set(want) - set(names))
                raise Verdict("bad_weights", f"weights.npz names differ from the model's state_dict: "
                                             f"unexpected {extra[:5]}, missing {lack[:5]}")
            out = {}
            for name in want:
                arr = npz[name]
                if arr.dtype != np.float32:
                    raise Verdict("bad_weights", f"{name} is {arr.dtype}, not float32")
                if tuple(arr.shape) != want[name]:
                    raise Verdict("bad_weights", f"{name} has shape {tuple(arr.shape)}, not {want[name]}")
                out[name] = arr.astype(np.float64)
    except Verdict:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise Verdict("bad_weights", f"weights.npz is not an npz of plain arrays: {type(e).__name__}: {e}"[:400])
    bad = [n for n, a in out.items() if not np.isfinite(a).all()]
    if bad:
        raise Verdict("broken_training", f"the trained weights hold NaN/inf ({bad[:3]})")
    return out


# ----------------------------------------------------------------------------- numpy model

def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """3x3 convolution, padding 1, as one matrix product over explicit patches (im2col)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, ho, wo = win.shape[:4]
    cols = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * ho * wo, c * 9)
    out = cols @ w.reshape(w.shape[0], c * 9).T + b
    return out.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)


def _ln(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


def _lin(x: np.ndarray, W: dict, name: str) -> np.ndarray:
    return x @ W[name + ".weight"].T + W[name + ".bias"]


def forward(W: dict[str, np.ndarray], cfg: dict, X: np.ndarray, chunk: int = 16) -> np.ndarray:
    """Logits [N, classes] of the baseline Net with weights W (eval mode), computed in float32
    as torch computes it, returned as float64."""
    heads, outs = cfg["heads"], []
    W = {k: np.asarray(v, dtype=np.float32) for k, v in W.items()}
    for s in range(0, len(X), chunk):
        x = np.asarray(X[s:s + chunk], dtype=np.float32)
        x = np.maximum(_conv(x, W["stem.0.weight"], W["stem.0.bias"], 1), 0)
        x = np.maximum(_conv(x, W["stem.2.weight"], W["stem.2.bias"], 2), 0)
        B, C = x.shape[:2]
        x = x.reshape(B, C, -1).transpose(0, 2, 1) + W["pos"]
        T = x.shape[1]
        for i in range(cfg["depth"]):
            p = f"blocks.{i}."
            h = _lin(_ln(x, W[p + "ln1.weight"], W[p + "ln1.bias"]), W, p + "qkv")
            q, k, v = h.reshape(B, T, 3, heads, C // heads).transpose(2, 0, 3, 1, 4)
            att = np.einsum("bhtd,bhsd->bhts", q, k * np.float32(1 / np.sqrt(q.shape[-1])), optimize=True)
            att -= att.max(-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(-1, keepdims=True)
            y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
            x = x + _lin(y, W, p + "proj")
            h = _lin(_ln(x, W[p + "ln2.weight"], W[p + "ln2.bias"]), W, p + "fc1")
            from scipy.special import erf  # only when a model is evaluated, not at collection

            h = (0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))).astype(np.float32)
            x = x + _lin(h, W, p + "fc2")
        outs.append(_lin(_ln(x, W["ln.weight"], W["ln.bias"]).mean(1), W, "head").astype(np.float64))
    return np.concatenate(outs)


def eval_scores(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy)."""
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(labels)), labels])), float(np.mean(logits.argmax(1) == labels))


# ----------------------------------------------------------------------------- comparisons

def groups(cfg: dict) -> dict[str, list[str]]:
    """Parts of the model whose update is checked one by one (a frozen part cannot hide)."""
    out: dict[str, list[str]] = {}
    for name in param_shapes(cfg):
        if name.startswith("blocks."):
            key = ".".join(name.split(".")[:2])
        elif name.startswith(("ln.", "head.")):
            key = "ln+head"
        else:
            key = name.split(".")[0]
        out.setdefault(key, []).append(name)
    return out


def distances(W: dict, ref: dict, init: dict, cfg: dict) -> tuple[float, dict[str, float]]:
    """(overall, per group) distance of W from the reference, relative to the reference's update."""
    def rel(names):
        num = sum(float(((W[n] - ref[n]) ** 2).sum()) for n in names)
        den = sum(float(((ref[n] - init[n].astype(np.float64)) ** 2).sum()) for n in names)
        return float(np.sqrt(num / den)) if den > 0 else (0.0 if num == 0 else float("inf"))

    per = {g: rel(names) for g, names in groups(cfg).items()}
    return rel(list(param_shapes(cfg))), per


def saving(agent_peak: int, base_peak: int, floor: int) -> float:
    """How many times smaller the memory that training adds on top of the floor became."""
    extra = agent_peak - floor
    if extra <= 0:
        return float("inf")
    return (base_peak - floor) / extra


def judge(weights: bytes, agent_peak: int | None, base: dict, cfg: dict, init: dict,
          X_eval: np.ndarray, y_eval: np.ndarray) -> dict:
    """Scores, or Verdict(category, message). ``base`` holds the harness's baseline figures on the
    same configuration: ``peak``, ``floor`` (bytes) and ``weights`` (parsed, float64)."""
    W = parse_weights(weights, cfg)
    ref = base["weights"]
    dist, per = distances(W, ref, init, cfg)
    worst = max(per, key=per.get)
    scores = {"distance": dist, "worst_part_distance": per[worst]}
    if not (dist <= MAX_DISTANCE and per[worst] <= MAX_GROUP_DISTANCE):
        raise Verdict("wrong_training",
                      f"the weights are not the baseline's training on this configuration: distance "
                      f"{dist:.3f} of the baseline's update (max {MAX_DISTANCE}), worst part {worst} "
                      f"{per[worst]:.3f} (max {MAX_GROUP_DISTANCE})")
    ce, acc = eval_scores(forward(W, cfg, X_eval), y_eval)
    base_ce, base_acc = base.get("eval") or eval_scores(forward(ref, cfg, X_eval), y_eval)
    scores.update(eval_ce=ce, eval_acc=acc, baseline_ce=base_ce, baseline_acc=base_acc)
    if not (ce <= base_ce + CE_SLACK and acc >= base_acc - ACC_DROP):
        raise Verdict("broken_training",
                      f"held-out cross-entropy {ce:.3f} / accuracy {acc:.3f}; baseline {base_ce:.3f} / "
                      f"{base_acc:.3f} (needs <= +{CE_SLACK} / >= -{ACC_DROP})")
    if agent_peak is None or base.get("peak") is None or base.get("floor") is None:
        raise RuntimeError("the sandbox backend measured no peak memory: this task needs the witness")
    s = saving(agent_peak, base["peak"], base["floor"])
    scores.update(peak_mb=agent_peak / 2**20, baseline_peak_mb=base["peak"] / 2**20,
                  floor_mb=base["floor"] / 2**20, saving=min(s, 1e6))
    if not s >= MIN_SAVING:
        raise Verdict("not_enough_saving",
                      f"peak {agent_peak / 2**20:.0f} MB vs the baseline's {base['peak'] / 2**20:.0f} MB "
                      f"(floor {base['floor'] / 2**20:.0f} MB): training memory {s:.2f}x smaller, "
                      f"needs {MIN_SAVING}x")
    return scores
