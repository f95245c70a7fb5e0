"""Why a judge call did not produce a verdict. Neither is ever the graded model's failure."""
from __future__ import annotations

from ..agents.base import AgentError


class JudgeError(AgentError):
    """The judge broke: API down after retries, a malformed or cut-off verdict. A run *error*."""


class JudgeUnavailable(RuntimeError):
    """No judge backend is configured here. A live run is then an *error*; a shipped solution
    is graded by the deterministic part only, and the report says so."""
