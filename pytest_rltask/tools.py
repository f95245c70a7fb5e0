"""The standard tools (names and inputs as in the contracts) and the Tool type tasks extend."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator

if TYPE_CHECKING:
    from .episode import Episode

READ_LIMIT = 20_000  # characters of a file shown to the model
OUTPUT_NOTE = "\n[... truncated: {n} more characters not shown]"


@dataclasses.dataclass
class ToolResult:
    """What the model sees. ``ends`` stops the rollout (submit_answer)."""

    content: str
    is_error: bool = False
    ends: bool = False
    answer: str | None = None


class ToolInputError(ValueError):
    """Bad tool input: reported to the model as a tool error, never a harness error."""


ToolFunc = Callable[["Episode", dict[str, Any]], Awaitable[ToolResult]]


@dataclasses.dataclass
class Tool:
    """A tool the agent may call. ``input_schema`` is JSON Schema, sent to the model as is."""

    name: str
    description: str
    input_schema: dict[str, Any]
    func: ToolFunc

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


def tool(name: str, description: str, properties: dict[str, Any], required: list[str]):
    """Decorator: turn ``async def f(episode, input) -> ToolResult | str`` into a Tool."""

    def wrap(func: Callable[..., Awaitable[Any]]) -> Tool:
        async def run(ep: Episode, inp: dict[str, Any]) -> ToolResult:
            out = await func(ep, inp)
            return out if isinstance(out, ToolResult) else ToolResult(str(out))

        schema = {"type": "object", "properties": properties, "required": required}
        return Tool(name, description, schema, run)

    return wrap


def _str(inp: dict[str, Any], key: str, default: str | None = None) -> str:
    if key not in inp or inp[key] is None:
        if default is not None:
            return default
        raise ToolInputError(f"missing required input {key!r}")
    val = inp[key]
    if not isinstance(val, str):
        raise ToolInputError(f"input {key!r} must be a string, got {type(val).__name__}")
    return val


def resolve(workspace: Path, rel: str) -> Path:
    """The host path for a workspace-relative path; anything that escapes is a ToolInputError.

    Symlinks are resolved (no agent process is alive between tool calls, so nothing can swap
    them after the check), so a link pointing out of the workspace is refused too.
    """
    if "\x00" in rel:
        raise ToolInputError("path contains a NUL byte")
    root = workspace.resolve()
    p = Path(rel)
    if p.is_absolute():
        # accept the sandbox's own absolute spelling of the workspace
        raise ToolInputError(f"path {rel!r} is absolute: use a path relative to the workspace")
    full = (root / p).resolve()
    if full != root and root not in full.parents:
        raise ToolInputError(f"path {rel!r} is outside the workspace")
    return full


@contextlib.contextmanager
def _os_errors(path: str) -> Iterator[None]:
    """File-system errors caused by the model's input are tool errors the model sees."""
    try:
        yield
    except (OSError, UnicodeError) as e:
        raise ToolInputError(f"{path!r}: {getattr(e, 'strerror', None) or e}") from e


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + OUTPUT_NOTE.format(n=len(text) - limit)


def _format_exec(res) -> str:
    parts = [f"exit code: {res.exit_code}"]
    if res.timed_out:
        parts.append("(killed: wall-time limit reached)")
    elif res.limit:
        parts.append(f"(stopped by the sandbox's {res.limit} limit)")
    parts.append("stdout:\n" + res.stdout)
    parts.append("stderr:\n" + res.stderr)
    if res.truncated:
        parts.append("[output truncated by the sandbox]")
    return "\n".join(parts)


@tool(
    "write_file",
    "Write a text file in the workspace (creating parent folders). Paths are relative to the workspace.",
    {"path": {"type": "string"}, "content": {"type": "string"}},
    ["path", "content"],
)
async def write_file(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    path, content = _str(inp, "path"), _str(inp, "content")
    full = resolve(ep.workspace, path)
    if full == ep.workspace.resolve() or full.is_dir():
        raise ToolInputError(f"{path!r} is a directory")
    data = content.encode("utf-8", errors="surrogateescape")
    if len(data) > ep.sandbox.limits.file_size:
        raise ToolInputError("content exceeds the sandbox's file-size limit")
    with _os_errors(path):
        full.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        ep.hand_over(full)
    return ToolResult(f"wrote {len(data)} bytes to {path}")


@tool(
    "read_file",
    "Read a text file from the workspace.",
    {"path": {"type": "string"}},
    ["path"],
)
async def read_file(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    path = _str(inp, "path")
    full = resolve(ep.workspace, path)
    with _os_errors(path):
        if not full.exists():
            raise ToolInputError(f"{path!r} does not exist")
        if not stat.S_ISREG(full.stat().st_mode):
            raise ToolInputError(f"{path!r} is not a regular file")
        with open(full, "rb") as fh:
            raw = fh.read(READ_LIMIT * 4 + 1)
    return ToolResult(truncate(raw.decode("utf-8", errors="replace"), READ_LIMIT))


@tool(
    "list_files",
    "List the files and folders under a workspace path (default: the workspace root).",
    {"path": {"type": "string"}},
    [],
)
async def list_files(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    path = _str(inp, "path", ".")
    full = resolve(ep.workspace, path)
    with _os_errors(path):
        if not full.is_dir():
            raise ToolInputError(f"{path!r} is not a directory")
        names = sorted(p.name + ("/" if p.is_dir() and not p.is_symlink() else "") for p in full.iterdir())
    return ToolResult("\n".join(names[:1000]) or "(empty)")


@tool(
    "run_python",
    "Run a Python file from the workspace with optional arguments; returns exit code, stdout and stderr.",
    {"path": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}}},
    ["path"],
)
async def run_python(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    path = _str(inp, "path")
    args = inp.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ToolInputError("input 'args' must be a list of strings")
    if any("\x00" in a for a in args):
        raise ToolInputError("arguments must not contain NUL bytes")
    full = resolve(ep.workspace, path)
    if not full.is_file():
        raise ToolInputError(f"{path!r} is not a file in the workspace")
    rel = full.relative_to(ep.workspace.resolve()).as_posix()
    res = await ep.exec([ep.sandbox.python_executable(), rel, *args])
    return ToolResult(_format_exec(res), is_error=res.exit_code != 0)


@tool(
    "bash",
    "Run a bash command in the workspace; returns exit code, stdout and stderr.",
    {"command": {"type": "string"}},
    ["command"],
)
async def bash(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    command = _str(inp, "command")
    if "\x00" in command:
        raise ToolInputError("the command must not contain NUL bytes")
    res = await ep.exec(["/bin/bash", "-c", command])
    return ToolResult(_format_exec(res), is_error=res.exit_code != 0)


@tool(
    "submit_answer",
    "Submit your final answer. This ends the task.",
    {"answer": {"type": "string"}},
    ["answer"],
)
async def submit_answer(ep: Episode, inp: dict[str, Any]) -> ToolResult:
    raw = inp.get("answer")
    if raw is None:
        raise ToolInputError("missing required input 'answer'")
    answer = raw if isinstance(raw, str) else str(raw)
    return ToolResult("answer submitted", ends=True, answer=answer)


STANDARD: dict[str, Tool] = {
    t.name: t for t in (write_file, read_file, list_files, run_python, bash, submit_answer)
}


def select(names_or_tools: list[str | Tool] | tuple[str | Tool, ...]) -> list[Tool]:
    """Tools for a task: standard ones by name, custom ones as Tool objects."""
    out: list[Tool] = []
    for t in names_or_tools:
        if isinstance(t, Tool):
            out.append(t)
        elif t in STANDARD:
            out.append(STANDARD[t])
        else:
            raise ValueError(f"unknown tool {t!r}; standard tools are {sorted(STANDARD)}")
    if len({t.name for t in out}) != len(out):
        raise ValueError("duplicate tool names")
    return out
