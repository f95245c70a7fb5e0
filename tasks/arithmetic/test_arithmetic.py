"""The grader: the submitted answer, as a plain integer."""
from pytest_rltask import category

from .task import TASK  # noqa: F401  (the plugin plays the module's TASK)


def test_arithmetic(rollout):
    with category("wrong_answer"):
        assert rollout.answer.strip() == "8769", f"submitted {rollout.answer!r}"
