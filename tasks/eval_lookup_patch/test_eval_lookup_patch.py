"""eval_lookup_patch: a homework repo whose load() answers from a dataset lookup, not the model.

The agent must make the trained model answer. The grader (grader.py) runs the agent's own
`evaluate.py` / `train.py` again through `rollout.run`, exactly as its tools start them, on the
secret instance of this rollout, and judges the predictions it gets back on the trusted side.
"""
from __future__ import annotations

from . import grader
from .task import TASK, make_instance

__all__ = ["TASK"]


def test_eval_lookup_patch(rollout):
    grader.grade(rollout, make_instance(rollout.instance))
