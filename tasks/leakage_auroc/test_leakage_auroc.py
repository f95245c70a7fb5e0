"""tasks/leakage_auroc: churn prediction from a table whose training copy leaks the label.

train.csv carries three leaky columns: a post-outcome count (retention_calls) and two target
encodings computed with each row's own label (store_churn_rate, peer_churn_rate). test.csv holds
them as they really are at prediction time. The agent delivers predict.py; the grader runs it
again (``rollout.run``, a fresh sandbox like the agent's own) on new customers of the same secret
instance written as test.csv, and computes the AUROC of the predictions.csv it writes, as plain
data here, against labels that never leave this process.
"""
from __future__ import annotations

import os
import stat

from . import grader
from .task import TASK, generate, to_csv

__all__ = ["TASK"]


def workspace_predictions(rollout) -> bytes | None:
    """The agent's own predictions.csv for test.csv (only reported), read as data if regular."""
    path = rollout.workspace / grader.OUTPUT
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > grader.MAX_BYTES:
        return None
    return path.read_bytes()


def test_leakage_auroc(rollout):
    rollout.artifact(grader.PREDICT, "no_artifact")
    inst = generate(rollout.instance)
    if (rollout.workspace / "test.csv").is_symlink():
        grader.fail("bad_workspace", "test.csv was replaced by a symlink: predict.py's input has no place")
    files = {"test.csv": to_csv(inst.hidden)}
    if not (rollout.workspace / grader.OUTPUT).is_symlink():
        files[grader.OUTPUT] = b""  # a placeholder: a file from the agent's own runs never counts
    # (a symlink there is left as it is: the output must be a regular file, so it cannot count either)
    run = rollout.run([grader.PREDICT], files=files, outputs=[grader.OUTPUT])
    raw = grader.predictions_of_run(run)
    ws = grader.auroc_or_none(workspace_predictions(rollout), list(inst.test["customer_id"]), inst.y_test)
    if ws is not None:
        rollout.score("auroc_workspace", ws)
    ids = list(inst.hidden["customer_id"])
    try:
        probs = grader.parse_predictions(raw, ids)
    except grader.BadPredictions as e:
        grader.fail("bad_predictions", str(e))
    rollout.score("auroc", grader.auroc(probs, inst.y_hidden))
    grader.judge(raw, ids, inst.y_hidden)
