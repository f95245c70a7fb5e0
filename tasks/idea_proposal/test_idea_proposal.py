"""tasks/idea_proposal: 3-5 research ideas grounded in the shipped literature, scored per idea by a
judge after deterministic checks (see README.md and grader.py)."""
from __future__ import annotations

from . import grader
from .task import TASK  # noqa: F401  (the plugin reads TASK from the test module)


def test_idea_proposal(rollout, judge):
    grader.grade(rollout.answer, judge, rollout)
