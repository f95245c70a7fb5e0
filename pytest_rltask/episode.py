"""One rollout's world: the prompt, the tools over a sandbox, the step budget and the transcript.

Every agent backend (anthropic, openai, replay) drives an Episode the same way: ask the model,
``await episode.call(name, input)`` for each tool call, stop when ``episode.done``.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from .sandbox.base import ExecResult, Sandbox
from .tools import Tool, ToolInputError, ToolResult
from .transcript import Transcript

# Why a rollout ended. "submitted" is the only one that reaches the grader as a delivery.
STATUSES = ("running", "submitted", "no_submission", "max_steps", "timeout", "refusal")


@dataclasses.dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    requests: int = 0

    def add(self, **kw: int | None) -> None:
        for k, v in kw.items():
            if v:
                setattr(self, k, getattr(self, k) + int(v))


class Episode:
    """The harness side of one rollout. Agents call tools only through ``call``."""

    def __init__(
        self,
        *,
        prompt: str,
        tools: list[Tool],
        sandbox: Sandbox,
        transcript: Transcript,
        max_steps: int,
        max_tokens: int = 4096,
        system: str | None = None,
        tool_timeout: float | None = None,
    ) -> None:
        self.prompt = prompt
        self.system = system
        self.tools = {t.name: t for t in tools}
        self.sandbox = sandbox
        self.workspace = sandbox.workspace
        self.transcript = transcript
        self.max_steps = max_steps
        self.max_tokens = max_tokens
        self.tool_timeout = tool_timeout
        self.steps = 0  # model turns taken
        self.tool_calls = 0
        self.status = "running"
        self.answer: str | None = None
        self.usage = Usage()
        self.sandbox_limits_hit: list[str] = []
        self._lock = asyncio.Lock()

    # -- what agents use -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.status != "running"

    def tool_specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self.tools.values()]

    def begin_turn(self) -> bool:
        """Count a model turn; False (and status max_steps) once the budget is spent."""
        if self.done:
            return False
        if self.steps >= self.max_steps:
            self.finish("max_steps")
            return False
        self.steps += 1
        return True

    async def call(self, name: str, inp: Any, call_id: str | None = None) -> ToolResult:
        """Run one tool call; bad input or unknown tools come back as tool errors."""
        t0 = time.monotonic()
        self.tool_calls += 1
        if self.done:
            res = ToolResult("the rollout has already ended", is_error=True)
        elif name not in self.tools:
            res = ToolResult(f"unknown tool {name!r}; available: {sorted(self.tools)}", is_error=True)
        elif not isinstance(inp, dict):
            res = ToolResult("tool input must be a JSON object", is_error=True)
        else:
            try:
                async with self._lock:
                    res = await self.tools[name].func(self, inp)
            except ToolInputError as e:
                res = ToolResult(f"error: {e}", is_error=True)
        self.transcript.event(
            "tool_call",
            id=call_id,
            tool=name,
            input=inp,
            result=res.content,
            is_error=res.is_error,
            seconds=round(time.monotonic() - t0, 4),
        )
        if res.ends and not self.done:
            self.answer = res.answer
            self.finish("submitted")
        return res

    def finish(self, status: str) -> None:
        assert status in STATUSES, status
        if not self.done:
            self.status = status
            self.transcript.event("end", status=status, steps=self.steps)

    # -- what tools use --------------------------------------------------------------------
    async def exec(self, argv: list[str]) -> ExecResult:
        """Run a command in the sandbox off the event loop."""
        from . import budget

        def run() -> ExecResult:
            with budget.cpu():  # code runs only while a core is free (shared by the session)
                return self.sandbox.exec(argv, timeout=self.tool_timeout)

        res = await asyncio.to_thread(run)
        if res.limit:
            self.sandbox_limits_hit.append(res.limit)
        return res

    def hand_over(self, path: Path) -> None:
        """Give a harness-written file to the sandbox's uid, so agent code can change it."""
        owner = getattr(self.sandbox, "owner", None)
        if owner is not None:
            uid, gid = owner
            root = self.workspace.resolve()
            p = path
            while True:
                os.lchown(p, uid, gid)
                if p == root or p.parent == p:
                    break
                p = p.parent
