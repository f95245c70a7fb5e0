"""tasks/memory_optimizations: the prompt, the workspace, and the hidden grading configuration.

The agent rewrites train.py to cut its peak memory. The grader runs it again (``Rollout.run``,
as ``run_python`` starts it) on a hidden, larger configuration derived from ``rollout.instance``
and written under the workspace's own names (config.json, data.npz, init.npz). Everything here
is numpy: the pytest process never imports torch.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from pytest_rltask import Limits, Task

HERE = Path(__file__).resolve().parent
BASELINE = (HERE / "baseline_train.py").read_text()

CLASSES = 10
DIM, HEADS, DEPTH, IMAGE = 32, 8, 2, 32   # the hidden configuration's model (activations dominate)
HIDDEN_STEPS = 2
HIDDEN_BATCHES = (32, 40)
HIDDEN_LRS = (3e-3, 4e-3)
PUBLIC = {"image": 16, "batch": 32, "steps": 20, "dim": DIM, "heads": HEADS, "depth": DEPTH,
          "classes": CLASSES, "lr": 3e-3}
N_EVAL = 64   # held-out images per instance: generated in the test process, never written anywhere
NOISE = 1.0
# one process, one thread: the peak-memory witness reports the largest single process, so work
# split over processes is refused by the sandbox itself (RLIMIT_NPROC counts threads too)
NPROC = 1
RUN_LIMITS = Limits(wall_s=400, cpu_s=600, nproc=NPROC)


def _rng(instance: int, stream: str) -> np.random.Generator:
    """Independent streams of one instance: knowing the public data does not give the hidden."""
    return np.random.default_rng([int(instance) & (2**63 - 1), sum(map(ord, stream)) * 7919 + len(stream)])


def hidden_config(instance: int) -> dict:
    """The grading configuration of an instance: 32x32 images (256 tokens), HIDDEN_STEPS updates."""
    rng = _rng(instance, "hidden-config")
    return {"image": IMAGE, "batch": int(rng.choice(HIDDEN_BATCHES)), "steps": HIDDEN_STEPS,
            "dim": DIM, "heads": HEADS, "depth": DEPTH, "classes": CLASSES,
            "lr": float(rng.choice(HIDDEN_LRS))}


def param_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    """The baseline Net's state_dict names and shapes (test_grader checks them against torch)."""
    d, t = cfg["dim"], (cfg["image"] // 2) ** 2
    shapes: dict[str, tuple[int, ...]] = {
        "stem.0.weight": (16, 3, 3, 3), "stem.0.bias": (16,),
        "stem.2.weight": (d, 16, 3, 3), "stem.2.bias": (d,),
        "pos": (1, t, d),
    }
    for i in range(cfg["depth"]):
        p = f"blocks.{i}."
        shapes.update({
            p + "ln1.weight": (d,), p + "ln1.bias": (d,),
            p + "qkv.weight": (3 * d, d), p + "qkv.bias": (3 * d,),
            p + "proj.weight": (d, d), p + "proj.bias": (d,),
            p + "ln2.weight": (d,), p + "ln2.bias": (d,),
            p + "fc1.weight": (4 * d, d), p + "fc1.bias": (4 * d,),
            p + "fc2.weight": (d, 4 * d), p + "fc2.bias": (d,),
        })
    shapes.update({"ln.weight": (d,), "ln.bias": (d,),
                   "head.weight": (cfg["classes"], d), "head.bias": (cfg["classes"],)})
    return shapes


def init_weights(cfg: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch's default init (uniform +-1/sqrt(fan_in)), LayerNorm 1/0, small random pos."""
    out = {}
    shapes = param_shapes(cfg)
    for name, shape in shapes.items():
        if ".ln" in name or name.startswith("ln."):
            val = np.ones(shape) if name.endswith("weight") else np.zeros(shape)
        elif name == "pos":
            val = rng.normal(0, 0.02, size=shape)
        else:
            wname = name[: -len("bias")] + "weight" if name.endswith("bias") else name
            bound = 1.0 / np.sqrt(int(np.prod(shapes[wname][1:])))
            val = rng.uniform(-bound, bound, size=shape)
        out[name] = val.astype(np.float32)
    return out


def _classes(rng: np.random.Generator, image: int) -> np.ndarray:
    """Class prototypes [10, 3, image, image]: a colour times an oriented stripe pattern."""
    colour = rng.normal(size=(CLASSES, 3))
    ang = rng.uniform(0, np.pi, CLASSES)
    freq = rng.uniform(0.3, 1.2, CLASSES)
    yy, xx = np.mgrid[0:image, 0:image]
    stripes = np.stack([np.sin(freq[c] * (np.cos(ang[c]) * xx + np.sin(ang[c]) * yy)) for c in range(CLASSES)])
    return colour[:, :, None, None] * (0.5 + 0.5 * stripes[:, None])


def _samples(protos: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, CLASSES, n).astype(np.int64)
    X = (protos[y] + rng.normal(scale=NOISE, size=(n, *protos.shape[1:]))).astype(np.float32)
    return X, y


def instance_data(cfg: dict, instance: int, stream: str, n_eval: int = 0):
    """(X, y, init, X_eval, y_eval) of one configuration of an instance."""
    rng = _rng(instance, stream)
    protos = _classes(rng, cfg["image"])
    X, y = _samples(protos, rng, cfg["steps"] * cfg["batch"])
    init = init_weights(cfg, rng)
    Xe, ye = _samples(protos, rng, n_eval) if n_eval else (None, None)
    return X, y, init, Xe, ye


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def run_files(cfg: dict, X: np.ndarray, y: np.ndarray, init: dict[str, np.ndarray]) -> dict[str, bytes]:
    """A configuration as the workspace's own files."""
    return {"config.json": json.dumps(cfg, indent=1).encode(), "data.npz": npz_bytes({"X": X, "y": y}),
            "init.npz": npz_bytes(init)}


def make_workspace(ws: Path, instance: int) -> None:
    X, y, init, _, _ = instance_data(PUBLIC, instance, "public")
    (ws / "train.py").write_text(BASELINE)
    for name, blob in run_files(PUBLIC, X, y, init).items():
        (ws / name).write_bytes(blob)


def prompt() -> str:
    from . import grader as g

    return f"""\
Your workspace holds:
- train.py: a baseline PyTorch training script (a conv stem + 2-block transformer classifier of
  small RGB images, 10 classes) with no memory optimizations at all. Read it first.
- config.json, data.npz, init.npz: the configuration, training batches and initial weights it reads.

Task: rewrite train.py so that its peak memory is much lower while it computes the same training.
Everything runs on the CPU (no GPU here nor on the grader). Installed: torch (CPU), numpy.

The contract (keep it): `python train.py` (no arguments) reads config.json, data.npz and init.npz
from the current directory, builds the model of the baseline (same modules, same state_dict names
and shapes), loads init.npz, and makes exactly config["steps"] AdamW updates (lr = config["lr"],
other AdamW settings at their defaults), update i over the rows i*batch .. (i+1)*batch - 1 of
data.npz with the mean cross-entropy over those `batch` samples, as the baseline does. It then
writes weights.npz: np.savez of float32 arrays, one per state_dict entry, named as in
model.state_dict(). train.py runs as ONE process with ONE thread: the sandbox refuses a second
process or thread (no subprocess, multiprocessing, DataLoader workers, torch.compile, and keep
torch.set_num_threads(1)).

How it is graded. The grader copies your final workspace and writes a hidden, larger
configuration over config.json, data.npz and init.npz (32x32 images, so 256 tokens per image;
{min(HIDDEN_BATCHES)} to {max(HIDDEN_BATCHES)} samples per update; {HIDDEN_STEPS} updates;
the same dim, heads and depth; fresh data and initial weights), then runs `python train.py` there
exactly as your run_python tool does. The kernel's record of the process's peak resident memory
is taken by the sandbox, outside your code. The unmodified baseline is run the same way on the same
configuration, and once more with "steps": 0 (its floor: Python + torch + data + model, about
300 MB). It passes when all of these hold:
1. train.py exits 0 within the time limit and writes weights.npz with exactly the baseline's
   names and shapes, all float32 and finite.
2. Same training: the distance of your weights from the baseline's trained weights is at most
   {g.MAX_DISTANCE} of the baseline's own update (||w - w_base|| / ||w_base - w_init||, over all
   weights), and at most {g.MAX_GROUP_DISTANCE} for each part (stem, pos, each block, final
   LayerNorm + head). bfloat16 autocast stays well inside that; fewer updates, other data, other
   batch sizes per update, frozen or skipped layers do not. On held-out images of the same classes
   your model's cross-entropy must be at most the baseline's + {g.CE_SLACK} and its accuracy at
   least the baseline's - {g.ACC_DROP}.
3. Memory: (baseline peak - floor) / (your peak - floor) >= {g.MIN_SAVING} on the hidden
   configuration, i.e. the memory that training adds on top of the floor must shrink by at least
   {g.MIN_SAVING}x. The baseline's attention materializes [batch, heads, 256, 256] scores; the
   usual means are memory-efficient attention, activation checkpointing, micro-batching with
   gradient accumulation, mixed precision, freeing gradients and tensors early, in-place ops; any
   mix that really cuts the peak counts, nothing is credited for merely calling an API.

You can run `python train.py` here (the public configuration is smaller: 16x16 images) and make
your own larger config to measure the peak yourself (resource.getrusage(resource.RUSAGE_SELF)
.ru_maxrss is in KiB). You have at most 25 turns. When train.py is ready, call submit_answer (the
answer text is not graded).
"""


TASK = Task(
    prompt=lambda seed: prompt(),
    tools=["write_file", "read_file", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=25,
    time_limit=1800,
    limits=RUN_LIMITS,
)
