"""Run outcomes: passed / failed (with a category) / error, decided from what a test raised."""
from __future__ import annotations

import contextlib
from typing import Iterator

import pytest

OUTCOMES = ("passed", "failed", "error")
# Harness-named failure categories (graders name their own).
HARNESS_CATEGORIES = ("no_submission", "max_steps", "timeout", "refusal", "sandbox_limit", "no_result")


class RolloutFailure(AssertionError):
    """The model's fault, with a category. An AssertionError so pytest renders it as a failure."""

    def __init__(self, category: str, message: str = "") -> None:
        if not category or not isinstance(category, str):
            raise TypeError("a failure category is a non-empty string")
        self.category = category
        self.message = message
        super().__init__(f"[{category}] {message}" if message else f"[{category}]")


def fail(category: str, message: str = "") -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
    """Fail this run now with a named category."""
    raise RolloutFailure(category, message)


@contextlib.contextmanager
def category(name: str) -> Iterator[None]:
    """Give the assertions inside this block a failure category."""
    try:
        yield
    except RolloutFailure:
        raise
    except AssertionError as e:
        raise RolloutFailure(name, str(e) or "assertion failed") from e


def classify(exc: BaseException | None) -> tuple[str, str | None, str]:
    """(outcome, category, message) for what the test body raised."""
    if exc is None:
        return "passed", None, ""
    if isinstance(exc, RolloutFailure):
        return "failed", exc.category, exc.message
    if isinstance(exc, AssertionError):
        return "failed", "assertion", str(exc).split("\n")[0][:500]
    if isinstance(exc, (pytest.skip.Exception, pytest.xfail.Exception)):
        return "failed", "grader_skip", f"grader raised {type(exc).__name__}: {exc}"[:500]
    return "error", type(exc).__name__, f"{type(exc).__name__}: {exc}"[:500]
