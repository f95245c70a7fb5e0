"""pytest-rltask: RL tasks for LLM agents as pytest tests, with a pass-rate band gate.

The public surface: ``Task`` (what a task is), ``fail``/``category`` (failure categories for
graders), ``Limits`` (sandbox limits), ``Tool``/``tool`` (custom tools), ``Rollout`` (what the
``rollout`` fixture gives the grader), ``AgentRun`` (what ``Rollout.run`` returns).
"""
from __future__ import annotations

from .outcome import RolloutFailure, category, fail
from .sandbox.base import ExecResult, Limits
from .task import AgentRun, Rollout, Task, write_files
from .tools import Tool, ToolResult, tool

__all__ = [
    "AgentRun",
    "ExecResult",
    "Limits",
    "Rollout",
    "RolloutFailure",
    "Task",
    "Tool",
    "ToolResult",
    "category",
    "fail",
    "tool",
    "write_files",
]
__version__ = "0.1.0"
