"""tasks/literature_review: a literature review written from a shipped paper corpus, graded by
deterministic checks first and an LLM judge second (see README.md and grader.py)."""
from __future__ import annotations

from . import grader
from .task import TASK  # noqa: F401  (the plugin reads TASK from the test module)


def test_literature_review(rollout, judge):
    grader.grade(rollout.answer, rollout.seed, judge, rollout)
