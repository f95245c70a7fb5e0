"""Trusted grading of tasks/fsdp_conversion: what the agent's job must produce, and the verdict.

The agent's train_fsdp.py runs only through ``rollout.run`` (the torchrun command the prompt gives,
in a fresh copy of its workspace with the hidden CONFIG written into model.py / data.py). Its
products come back as bytes after that sandbox's pid namespace is gone. ``sandboxed.py`` (our code,
in another sandbox that holds only data) loads them with weights_only=True and recomputes the
training; ``verdict`` (pure, here) turns its numbers into a pass or a failure category.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from . import task as T

SANDBOXED = Path(__file__).with_name("sandboxed.py").read_text()
MAX_SCRIPT_BYTES = 1024 * 1024
MAX_PRODUCT_BYTES = 16 * 1024 * 1024  # the hidden models are < 1 MB of float32

# Measured (calibrate.py, instances 1-3, and the offline items' fixed instances): every honest
# variant (units, meta init, summed loss / numel, state-dict APIs) reproduced the one-process
# recomputation bit for bit (0.0); every wrong training differed by 0.059 or more. 1e-4 leaves
# room for other BLAS builds and thread counts.
TOLERANCE = 1e-4
SHARD_TOLERANCE = 1e-6  # a gathered tensor is the concatenation of the shards: exact in practice
UNTRAINED = 1e-7  # checkpoint this close to build_model()'s weights: no update reached it

CATEGORIES = ("no_script", "run_failed", "checkpoint_missing", "checkpoint_not_full", "not_finite",
              "not_sharded", "checkpoint_mismatch", "untrained", "sampler_epoch", "wrong_training")


class Verdict(Exception):
    """A failed check: the category and what the agent should learn from it."""

    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def _fail(cat: str, msg: str):
    raise Verdict(cat, msg)


def params() -> dict:
    """What the trusted recomputation needs besides the files: the prompt's recipe."""
    return {"checkpoint": T.CHECKPOINT, "shards": list(T.SHARDS), "world": T.WORLD, "epochs": T.EPOCHS,
            "batch": T.BATCH, "lr": T.LR, "sampler_seed": T.SAMPLER_SEED, "tolerance": TOLERANCE,
            "shard_tolerance": SHARD_TOLERANCE}


def grade_files(instance: int, products: dict[str, bytes]) -> dict[str, bytes | str]:
    """The trusted sandbox's inputs: our model.py/data.py for the hidden CONFIG, the recipe, the products."""
    return {**T.hidden_files(instance), "params.json": json.dumps(params()), **products}


def check_run(exit_code, timed_out: bool, stderr: str, files: dict[str, bytes]) -> None:
    """What can be decided before any product is loaded: the job ran and left its files."""
    if timed_out:
        _fail("run_failed", "the torchrun job did not finish in time (a rank hung or the job is too slow)")
    if exit_code != 0:
        _fail("run_failed", f"`{T.RUN_COMMAND}` exited with {exit_code!r}:\n{stderr[-1500:]}")
    if T.CHECKPOINT not in files:
        _fail("checkpoint_missing", f"the job left no {T.CHECKPOINT} in the working directory")
    for name in T.SHARDS:
        if name not in files:
            _fail("not_sharded", f"the job left no {name}: each rank must save its own part of the parameters")


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def verdict(res) -> dict[str, float]:
    """The sandboxed check's numbers -> scores, or Verdict(category, message). Fails closed on
    anything malformed (the numbers describe agent products, so any shape is possible)."""
    if not isinstance(res, dict):
        _fail("checkpoint_not_full", "the product check returned no result")
    err = res.get("checkpoint_error")
    if err is not None:
        _fail("checkpoint_not_full", f"{T.CHECKPOINT}: {str(err)[:600]}")
    bad = res.get("nonfinite")
    if not isinstance(bad, list):
        _fail("checkpoint_not_full", "malformed checkpoint report")
    if bad:
        _fail("not_finite", f"{T.CHECKPOINT} holds NaN or inf in {[str(k)[:60] for k in bad[:5]]}")
    sh = res.get("shards")
    if not isinstance(sh, dict) or not isinstance(sh.get("issues"), list):
        _fail("not_sharded", "malformed shard report")
    if sh["issues"]:
        _fail("not_sharded", "the per-rank files are not each rank's dim-0 part of the parameters: "
              + "; ".join(str(i)[:200] for i in sh["issues"][:3]))
    frac, sdiff = sh.get("largest_fraction"), sh.get("max_diff")
    if not _num(frac) or not 0.0 < frac <= 0.5 + 0.05:
        _fail("not_sharded", f"a rank's file holds {frac!r} of the parameters; each rank holds about 1/{T.WORLD}")
    if not _num(sdiff) or sdiff > SHARD_TOLERANCE:
        _fail("checkpoint_mismatch", f"{T.CHECKPOINT} is not the model the ranks hold: gathered shards differ "
              f"from it by up to {sdiff!r}")
    d_ref, d_init, moved = res.get("diff_ref"), res.get("diff_init"), res.get("ref_moved")
    if not (_num(d_ref) and _num(d_init) and _num(moved)):
        _fail("wrong_training", "the checkpoint could not be compared with the recomputed training")
    if d_ref <= TOLERANCE:
        scores = {"diff_ref": float(d_ref)}
        if _num(res.get("loss")):
            scores["loss"] = float(res["loss"])
        return scores
    if d_init <= UNTRAINED:
        _fail("untrained", f"{T.CHECKPOINT} holds build_model()'s initial weights: no optimizer step reached the "
              "model's parameters (was the optimizer built over the sharded ones?)")
    d_ne = res.get("diff_no_set_epoch")
    if _num(d_ne) and d_ne <= TOLERANCE:
        _fail("sampler_epoch", "the weights are those of a training that sees the same sample order every epoch: "
              "call sampler.set_epoch(epoch) at the start of each epoch")
    _fail("wrong_training", f"{T.CHECKPOINT} differs from the prompt's training (DistributedSampler order, "
          f"{T.WORLD} ranks' gradients averaged, AdamW lr {T.LR}) by up to {d_ref:.3g} (tolerance {TOLERANCE:g}; "
          f"the training itself moves the weights by {moved:.3g})")
