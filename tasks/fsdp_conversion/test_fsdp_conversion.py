"""tasks/fsdp_conversion: convert a single-process training script to FSDP2 (fully_shard).

The grader re-runs the agent's train_fsdp.py with the prompt's torchrun command on a hidden
instance (rollout.run), then judges the checkpoint and per-rank shards it wrote against a training
recomputed by trusted code in a separate sandbox (rollout.grade). No result comes from a process
that ran agent code except as bytes the trusted side re-checks.
"""
from __future__ import annotations

from pytest_rltask import fail

from . import grader as G
from . import task as T
from .task import TASK  # noqa: F401  (the plugin finds the task here)


def test_fsdp_conversion(rollout):
    rollout.artifact(T.SCRIPT, "no_script", max_bytes=G.MAX_SCRIPT_BYTES)
    run = rollout.run(command=T.RUN_COMMAND, files=T.hidden_files(rollout.instance),
                      outputs=[T.CHECKPOINT, *T.SHARDS], max_output_bytes=G.MAX_PRODUCT_BYTES)
    try:
        G.check_run(run.exit_code, run.timed_out, run.stderr, run.files)
        res = rollout.grade(G.SANDBOXED, files=G.grade_files(rollout.instance, run.files))
        scores = G.verdict(res)
    except G.Verdict as v:
        fail(v.category, v.message)
    for k, v in scores.items():
        rollout.score(k, v)
