"""neural_memory: add a surprise-gated, decaying, outer-product neural memory to a small transformer.

The agent gets model.py (a causal transformer whose MemoryBlock uses attention only, with a
NeuralMemory stub) and TASK.md (the interface). The grader never reads the code: it imports the
agent's model.py in a fresh grading sandbox (`python -I`), runs behavioural probes with its own
sizes, initialisation and inputs, and sends back the raw tensors it observed; the verdict is
computed here from plain numbers (neural_memory_task.verdict). See README.md.
"""
from __future__ import annotations

import json
import secrets

from neural_memory_task import (
    GRADER_SCRIPT,
    PROMPT,
    analyse,
    context,
    grader_input,
    make_workspace,
)

from pytest_rltask import Limits, Task, fail

TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=30,
    time_limit=1200,
    limits=Limits(wall_s=120, cpu_s=240),
    grade_limits=Limits(wall_s=300, cpu_s=600),
)


def test_neural_memory(rollout):
    model = rollout.artifact("model.py", "interface", max_bytes=1_000_000)
    nonce = secrets.token_hex(16)
    out = rollout.grade(
        GRADER_SCRIPT.read_text(),
        files={"model.py": model,
               "grader_input.json": json.dumps(grader_input(rollout.seed, nonce))},
        name=GRADER_SCRIPT.name,
    )
    a = analyse(out, context(rollout.seed, nonce))
    rollout.score("requirements_met", sum(1 for ok, _ in a["checks"].values() if ok))
    if a["first"] is not None:
        fail(*a["first"])
