"""An LLM judge for graders: rubric in, strictly checked verdict out, injection screened first.

Graders use the ``judge`` fixture (a ``Judge``); tasks declare ``Rubric``/``Criterion``. Backends
(anthropic, openai, none) live behind a small registry, like the agents.
"""
from __future__ import annotations

from .base import Judge, JudgeBackend, build_prompt, get_backend, names, register
from .errors import JudgeError, JudgeUnavailable
from .rubric import Criterion, Rubric, Score, Verdict
from .screen import Finding, normalize, screen

__all__ = [
    "Criterion", "Finding", "Judge", "JudgeBackend", "JudgeError", "JudgeUnavailable", "Rubric", "Score",
    "Verdict", "build_prompt", "get_backend", "names", "normalize", "register", "screen",
]
