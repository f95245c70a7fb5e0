"""tasks/memory_optimizations: cut the peak memory of a training script and keep its training.

The agent's train.py runs again via ``rollout.run`` (as its run_python starts it) on a hidden,
larger configuration of its instance, written over config.json / data.npz / init.npz. Its
weights.npz comes back as bytes after the sandbox is gone, and its peak RSS from the witness
outside the sandbox. The harness runs the shipped baseline the same way (and with 0 steps for the
floor), cached per configuration. grader.judge decides on the bytes and the figures.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from importlib import metadata

from pytest_rltask import fail

from . import grader
from .task import BASELINE, N_EVAL, TASK, hidden_config, instance_data, run_files  # noqa: F401

_BASE: dict[str, dict] = {}
_LOCK = threading.Lock()


def _key(rollout, files: dict[str, bytes]) -> str:
    h = hashlib.sha256(BASELINE.encode())
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    h.update(f"{rollout.isolation}:{metadata.version('torch')}:{TASK.limits}".encode())
    return h.hexdigest()[:32]


def _measure(rollout, cfg: dict, files: dict[str, bytes]) -> dict:
    """The baseline on this configuration, and its floor (the same run with 0 steps)."""
    full = rollout.run(["train.py"], files={**files, "train.py": BASELINE}, outputs=["weights.npz"],
                       from_workspace=False)
    if not full.ok or "weights.npz" not in full.files:
        raise RuntimeError(f"the baseline failed on the hidden configuration: {full.stderr[-1500:]}")
    zero = dict(files, **{"config.json": json.dumps(dict(cfg, steps=0)).encode()})
    floor = rollout.run(["train.py"], files={**zero, "train.py": BASELINE}, from_workspace=False)
    if not floor.ok:
        raise RuntimeError(f"the baseline's floor run failed: {floor.stderr[-1500:]}")
    if full.peak_rss is None or floor.peak_rss is None:
        raise RuntimeError("the sandbox backend measured no peak memory: this task needs the witness")
    return {"peak": full.peak_rss, "floor": floor.peak_rss, "weights_npz": full.files["weights.npz"]}


def baseline(rollout, pytestconfig, cfg: dict, files: dict[str, bytes]) -> dict:
    """Baseline figures of one configuration: measured once, shared by xdist workers and sessions
    through pytest's cache folder (keyed by the baseline, the files, the backend and torch)."""
    key = _key(rollout, files)
    with _LOCK:
        if key in _BASE:
            return _BASE[key]
        cache = getattr(pytestconfig, "cache", None)
        if cache is None:
            got = _measure(rollout, cfg, files)
        else:
            folder = cache.mkdir("rltask-memory-optimizations")
            with open(folder / f"{key}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                meta, blob = folder / f"{key}.json", folder / f"{key}.npz"
                if meta.is_file() and blob.is_file():
                    got = dict(json.loads(meta.read_text()), weights_npz=blob.read_bytes())
                else:
                    got = _measure(rollout, cfg, files)
                    blob.write_bytes(got["weights_npz"])
                    meta.write_text(json.dumps({"peak": got["peak"], "floor": got["floor"]}))
        try:
            weights = grader.parse_weights(got["weights_npz"], cfg)
        except grader.Verdict as v:
            raise RuntimeError(f"the baseline's weights are unusable: {v}") from None
        _BASE[key] = {"peak": int(got["peak"]), "floor": int(got["floor"]), "weights": weights}
        return _BASE[key]


def test_memory_optimizations(rollout, pytestconfig):
    rollout.artifact("train.py", "no_artifact", max_bytes=1_000_000, too_large="script_error")
    cfg = hidden_config(rollout.instance)
    X, y, init, X_eval, y_eval = instance_data(cfg, rollout.instance, "hidden", N_EVAL)
    files = run_files(cfg, X, y, init)
    run = rollout.run(["train.py"], files=files, outputs=["weights.npz"])
    if not run.ok:
        why = f"stopped by the {run.limit or 'wall_time'} limit" if (run.limit or run.timed_out) \
            else f"exit {run.exit_code}"
        fail("script_error", f"python train.py on the hidden configuration: {why}: {run.stderr[-1500:]}")
    blob = run.file("weights.npz", "no_weights")
    base = baseline(rollout, pytestconfig, cfg, files)
    if "eval" not in base:
        base["eval"] = grader.eval_scores(grader.forward(base["weights"], cfg, X_eval), y_eval)
    try:
        scores = grader.judge(blob, run.peak_rss, base, cfg, init, X_eval, y_eval)
    except grader.Verdict as v:
        fail(v.category, v.message)
    for name, value in scores.items():
        rollout.score(name, value)

