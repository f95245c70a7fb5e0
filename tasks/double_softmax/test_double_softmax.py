"""double_softmax: fix a silent double-softmax bug (softmax output fed to CrossEntropyLoss).

The agent gets train_digits.py (a PyTorch MLP on scikit-learn's digits whose model ends in softmax
while the loss is nn.CrossEntropyLoss). The grader never reads the code: it imports the fixed
script in a fresh grading sandbox, observes main()'s optimizer steps, trains build_model() with
make_loss() under its own seed and budget while comparing loss and gradient with cross-entropy of
the logits at every step, and sends back the trained weights; held-out accuracy is computed here,
in the pytest process, with labels that never enter a sandbox. See README.md.
"""
from __future__ import annotations

import json
import secrets

from double_softmax_task import (
    GRADER_SCRIPT,
    PROMPT,
    SCRIPT_NAME,
    context,
    grader_input,
    heldout_accuracy,
    make_workspace,
    verdict,
)

from pytest_rltask import Limits, Task, fail

TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=30,
    time_limit=1200,
    limits=Limits(wall_s=180, cpu_s=360),
    grade_limits=Limits(wall_s=480, cpu_s=900),
)


def test_double_softmax(rollout):
    script = rollout.artifact(SCRIPT_NAME, "script_error", max_bytes=1_000_000)
    nonce = secrets.token_hex(16)
    out = rollout.grade(
        GRADER_SCRIPT.read_text(),
        files={SCRIPT_NAME: script,
               "grader_input.json": json.dumps(grader_input(rollout.seed, nonce))},
        name=GRADER_SCRIPT.name,
    )
    ctx = context(rollout.seed, nonce)
    v = verdict(out, ctx)
    acc = heldout_accuracy(out, ctx)
    if acc is not None and (v is None or v[0] != "bad_result"):
        rollout.score("heldout_accuracy", acc)
    if v is not None:
        fail(*v)
