"""What a task is (Task), one parametrized case of it (Case), and one played rollout (Rollout)."""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from . import budget
from . import sandbox as sandboxes
from .agents.base import Agent, AgentError
from .episode import Episode, Usage
from .outcome import RolloutFailure
from .sandbox.base import Limits, Sandbox
from .tools import Tool, select
from .transcript import Transcript, trajectory_files

RESULT_FILE = "result.json"
RESULT_LIMIT = 64 * 1024 * 1024
OUTPUT_LIMIT = 256 * 1024 * 1024  # bytes of one file that Rollout.run brings back


def new_instance() -> int:
    """A fresh secret instance seed: from the OS's entropy, on the host, never derivable by the agent."""
    return secrets.randbits(63)


def fixed_instance(task: str, name: str) -> int:
    """The fixed instance of an offline solution item: reproducible, and said to be fixed in the report."""
    return int.from_bytes(hashlib.sha256(f"rltask-fixed-instance:{task}:{name}".encode()).digest()[:8], "big") >> 1


@dataclasses.dataclass
class AgentRun:
    """What one run of the agent's code did, in a fresh sandbox made like its own (``Rollout.run``).

    ``files`` holds the requested outputs, read on the host after every process of that sandbox
    was dead; ``missing`` names the outputs that were absent, not regular files, or too large.
    ``peak_rss`` is the kernel's high-water mark of the largest process, measured outside the
    sandbox (bytes; None where the backend cannot measure it).
    """

    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    limit: str | None
    timed_out: bool
    peak_rss: int | None
    files: dict[str, bytes]
    missing: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def file(self, name: str, category: str = "no_artifact") -> bytes:
        """The output ``name``, or the failure ``category`` saying why it is not there."""
        if name not in self.files:
            why = self.missing.get(name, "was not requested")
            raise RolloutFailure(category, f"{name} {why} (exit {self.exit_code}): {self.stderr[-400:]}")
        return self.files[name]


@dataclasses.dataclass
class Task:
    """A task: the prompt, the tools, the workspace it starts from, and its budgets."""

    prompt: str | Callable[[int], str]
    tools: list[str | Tool] | tuple[str | Tool, ...] = ("write_file", "run_python", "submit_answer")
    files: Callable[[Path, int], None] | None = None  # (workspace, rollout.instance)
    max_steps: int = 20
    max_tokens: int = 4096
    time_limit: float = 1800.0
    limits: Limits = dataclasses.field(default_factory=Limits)
    grade_limits: Limits | None = None
    system: str | None = None
    require_submission: bool = True
    solutions: str | Path | None = None  # default: solutions/ beside the test module
    image: str | None = None  # docker image with the task's own system packages (--rl-isolation docker)

    def __post_init__(self) -> None:
        select(list(self.tools))  # unknown tool names fail at import time, with the list

    def prompt_for(self, seed: int) -> str:
        return self.prompt(seed) if callable(self.prompt) else self.prompt


@dataclasses.dataclass(frozen=True)
class Case:
    """One parametrized item of a task: a live run, or a shipped solution."""

    kind: str  # "run" | "solution"
    index: int  # run number (1-based) or solution position
    path: Path | None = None  # the solution file

    @property
    def id(self) -> str:
        return f"run-{self.index}" if self.kind == "run" else f"solution-{self.path.stem}"


RUN_PARAM = re.compile(r"(?:^|-)run-\d+(?=-|$)")


def _split(nodeid: str) -> tuple[str, str | None]:
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid, None
    base, _, inner = nodeid[:-1].partition("[")
    return base, inner


def task_id(nodeid: str) -> str:
    """The node id without the run parameter: 'tasks/a/test_a.py::test_a[run-3]' -> '...::test_a'."""
    base, inner = _split(nodeid)
    if inner is None:
        return nodeid
    rest = RUN_PARAM.sub("", inner).lstrip("-")
    return f"{base}[{rest}]" if rest else base


def is_run_nodeid(nodeid: str) -> bool:
    _, inner = _split(nodeid)
    return inner is not None and RUN_PARAM.search(inner) is not None


def solutions_of(task: Task, module_path: Path) -> list[Path]:
    root = Path(task.solutions) if task.solutions else module_path.parent / "solutions"
    if not root.is_absolute():
        root = module_path.parent / root
    return trajectory_files(root) if root.is_dir() else []


@dataclasses.dataclass
class Rollout:
    """A played rollout, as the grader sees it. Read ``workspace`` as data; run agent code only via
    ``run`` and trusted grading code only via ``grade``.

    ``seed`` is the public run number (run-i: i); ``instance`` is the secret seed of this rollout's
    instance (what ``Task.files`` was called with): drawn fresh per live rollout on the host,
    recorded in the transcript, fixed for an offline solution. Derive hidden data from ``instance``.
    """

    task: Task
    seed: int
    case: Case
    answer: str | None
    status: str
    workspace: Path
    transcript: Transcript
    usage: Usage
    steps: int
    tool_calls: int
    seconds: float
    isolation: str
    agent: str
    scores: dict[str, float] = dataclasses.field(default_factory=dict)
    grade_seconds: float = 0.0
    instance: int = 0
    instance_source: str = "secret"  # "secret" | "recorded" | "fixed"
    lease: Any = None  # the agent's sandbox uid, held until the grader is done (see Rollout.run)

    def close(self) -> None:
        """Release what the rollout still holds (its sandbox uid); the fixture calls it at teardown."""
        lease, self.lease = self.lease, None
        if lease is not None:
            from .sandbox._isolated import release_lease

            release_lease(lease)

    def score(self, name: str, value: float) -> None:
        """Record a number (accuracy, AUROC...) for the report's per-task means."""
        self.scores[name] = float(value)

    def artifact(self, name: str, category: str = "no_artifact", max_bytes: int | None = None,
                 too_large: str | None = None) -> Path:
        """The host path of the agent's file ``name``, or the failure ``category`` when it is missing,
        not a regular file (symlinks are not followed), outside the workspace, or over ``max_bytes``
        (category ``too_large`` if given). Read it as data; run it only through ``grade``."""
        path = self.workspace / name
        if not path.exists() and not path.is_symlink():
            raise RolloutFailure(category, f"{name} was not written in the workspace")
        if path.is_symlink() or not path.is_file():
            raise RolloutFailure(category, f"{name} is not a regular file (symlinks are not followed)")
        if self.workspace.resolve() not in path.resolve().parents:
            raise RolloutFailure(category, f"{name} resolves outside the workspace")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise RolloutFailure(too_large or category, f"{name} is larger than {max_bytes} bytes")
        return path

    def run(
        self,
        args: list[str] | tuple[str, ...] | None = None,
        *,
        command: str | None = None,
        files: dict[str, bytes | str | Path] | None = None,
        outputs: list[str] | tuple[str, ...] = (),
        stdin: bytes | None = None,
        limits: Limits | None = None,
        from_workspace: bool = True,
        max_output_bytes: int = OUTPUT_LIMIT,
    ) -> AgentRun:
        """Run the agent's code again, started exactly as its own tools start it, in a fresh sandbox.

        ``args`` is ``run_python``'s form (``["train.py", "--x"]``: the interpreter with no extra
        flags); ``command`` is ``bash``'s (``/bin/bash -c COMMAND``). The workspace is a copy of the
        agent's final one (``from_workspace``) with ``files`` written over it: give hidden inputs
        the workspace's own file names, so that the run cannot tell grading from its own runs. The
        environment, working directory, uid scheme and limits (``Task.limits`` unless given) are
        the agent's. ``outputs`` are read back as bytes only after the sandbox's whole pid
        namespace is gone; nothing the run writes anywhere else reaches the grader. Judge those
        bytes as data: in the test, or with ``grade`` in yet another sandbox.
        """
        if (args is None) == (command is None):
            raise ValueError("Rollout.run(): give either args (run_python's form) or command (bash's)")
        t0 = time.monotonic()
        in_place = from_workspace
        ws = self.workspace if in_place else Path(tempfile.mkdtemp(prefix="rltask-ws-"))
        # the files written here belong to the agent's uid (rootless: they are the harness's already)
        owner = (self.lease[0], self.lease[0]) if self.lease is not None and self.lease[1] >= 0 else None
        try:
            for path in write_files(ws, files):
                _give_path(ws, path, owner)
            if not in_place:
                give_tree(ws, owner)
            before = {name: _stamp(ws / name) for name in outputs}
            lim = limits or self.task.limits
            options = {"lease": self.lease} if self.lease is not None else {}
            sb = sandboxes.create(ws, lim, self.isolation, **options, **_image_options(self.task, self.isolation))
            if self.lease is None:
                give_tree(ws, getattr(sb, "owner", None))
            with sb, budget.cpu():
                if command is not None:
                    argv = ["/bin/bash", "-c", command]
                else:
                    argv = [sb.python_executable(), *[str(a) for a in args]]
                res = sb.exec(argv, stdin=stdin)
            # the sandbox is closed: every process it started is dead, so the files are final
            got: dict[str, bytes] = {}
            missing: dict[str, str] = {}
            for name in outputs:
                path = ws / name
                try:
                    inside = ws.resolve() in path.resolve().parents
                except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
                    inside = False
                if not path.exists() and not path.is_symlink():
                    missing[name] = "was not written"
                elif not inside or path.is_symlink() or not path.is_file():
                    missing[name] = "is not a regular file inside the workspace"
                elif before[name] is not None and _stamp(path) == before[name]:
                    missing[name] = "was not written by this run (it is the file left before it)"
                elif path.stat().st_size > max_output_bytes:
                    missing[name] = f"is larger than {max_output_bytes} bytes"
                else:
                    got[name] = path.read_bytes()
            self.transcript.event(
                "grade_run", argv=(list(args) if args is not None else ["bash", "-c", command]),
                exit_code=res.exit_code, limit=res.limit, seconds=round(res.duration_s, 3),
                peak_rss=res.peak_rss, outputs={k: len(v) for k, v in got.items()}, missing=missing,
                stdout=res.stdout[-2000:], stderr=res.stderr[-2000:],
            )
            return AgentRun(
                exit_code=res.exit_code, stdout=res.stdout, stderr=res.stderr, seconds=res.duration_s,
                limit=res.limit, timed_out=res.timed_out, peak_rss=res.peak_rss, files=got, missing=missing,
            )
        finally:
            self.grade_seconds += time.monotonic() - t0
            if not in_place:
                shutil.rmtree(ws, ignore_errors=True)

    def grade(
        self,
        script: str,
        files: dict[str, bytes | str | Path] | None = None,
        args: list[str] | tuple[str, ...] = (),
        limits: Limits | None = None,
        name: str = "_grade.py",
    ) -> Any:
        """Run trusted grading code, ``python -I script``, in a fresh sandbox holding ``files``.

        Give it data only (the agent's artifacts, outputs of ``run``, hidden features), never
        labels, and never agent code to import: compare the returned data with hidden labels in
        the test process. The result is ``result.json`` of a run that exited 0; any other exit,
        or a missing or invalid result, is the failure ``no_result`` (``sandbox_limit`` when a
        limit stopped it): a result is trusted only from a grading run that finished cleanly.
        """
        if name in (files or {}):
            raise ValueError(f"grade(): {name!r} is the grading script's own name; give the input another name")
        t0 = time.monotonic()
        ws = Path(tempfile.mkdtemp(prefix="rltask-grade-"))
        try:
            write_files(ws, files)
            (ws / name).write_text(script)
            (ws / RESULT_FILE).unlink(missing_ok=True)  # only the trusted script may write it (an input of that name is dropped)
            sb = sandboxes.create(ws, limits or self.task.grade_limits or self.task.limits, self.isolation,
                                  **_image_options(self.task, self.isolation))
            give_tree(ws, getattr(sb, "owner", None))
            with sb, budget.cpu():
                res = sb.python(["-I", name, *args])
            out = ws / RESULT_FILE
            tail = res.stderr[-2000:]
            self.transcript.event(
                "grade", exit_code=res.exit_code, limit=res.limit, seconds=round(res.duration_s, 3),
                stdout=res.stdout[-2000:], stderr=tail,
            )
            data = None
            if res.exit_code == 0 and out.is_file() and not out.is_symlink() and out.stat().st_size <= RESULT_LIMIT:
                try:
                    data = json.loads(out.read_text(encoding="utf-8", errors="replace"))
                except json.JSONDecodeError:
                    data = None
            if data is None:
                if res.limit or res.timed_out:
                    raise RolloutFailure(
                        "sandbox_limit", f"grading stopped by the sandbox's {res.limit or 'wall_time'} limit"
                    )
                raise RolloutFailure(
                    "no_result", f"grading left no valid {RESULT_FILE} with exit 0 (exit {res.exit_code}): {tail[-500:]}"
                )
            return data
        finally:
            self.grade_seconds += time.monotonic() - t0
            shutil.rmtree(ws, ignore_errors=True)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat(follow_symlinks=False)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _give_path(root: Path, path: Path, owner: tuple[int, int] | None) -> None:
    """chown a harness-written file and the folders it created up to ``root`` to the sandbox uid."""
    if owner is None:
        return
    p = path
    while p != root and root in p.parents:
        if p.stat(follow_symlinks=False).st_uid != owner[0]:
            os.lchown(p, *owner)
        p = p.parent


def write_files(ws: Path, files: dict[str, bytes | str | Path] | None) -> list[Path]:
    """Write ``files`` (name -> bytes, str or host Path) into ``ws``; the paths written.

    Task code uses it too, to lay out a workspace from an instance's files.

    The names are the grader's, the tree may be the agent's: containment is checked on the name
    itself (no absolute path, no ``..``), and whatever the agent left in the way (a symlink or a
    file where a folder must go, a symlink or a folder at the name) is removed first, so no trap
    in the workspace turns into a harness error. An existing regular file is overwritten in
    place, and one that already holds these bytes is left alone (its times stay the agent's).
    """
    written = []
    for rel, content in (files or {}).items():
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or any(p in ("..", "") for p in parts):
            raise ValueError(f"file name {rel!r} escapes the sandbox workspace")
        node = ws
        for part in parts[:-1]:
            node = node / part
            if node.is_symlink() or (node.exists() and not node.is_dir()):
                node.unlink()
            node.mkdir(exist_ok=True)
        dest = ws.joinpath(*parts)
        if dest.is_symlink():
            dest.unlink()
        elif dest.is_dir():
            shutil.rmtree(dest)
        if isinstance(content, Path):
            if content.is_symlink() or not content.is_file():
                raise RolloutFailure("no_artifact", f"{content.name} is not a regular file")
            data = content.read_bytes()
        else:
            data = content.encode() if isinstance(content, str) else content
        try:
            same = dest.is_file() and dest.stat().st_size == len(data) and dest.read_bytes() == data
        except OSError:
            same = False
        if not same:
            dest.write_bytes(data)
        written.append(dest)
    return written


def _image_options(task: Task, isolation: str) -> dict[str, Any]:
    """A task's own docker image (its system packages), for every sandbox of its rollouts."""
    if isolation == "docker" and task.image:
        return {"image": task.image}
    return {}


def give_tree(root: Path, owner: tuple[int, int] | None) -> None:
    """chown a workspace tree to the sandbox's uid (no-op without a dedicated uid)."""
    if owner is None:
        return
    uid, gid = owner
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def play(**kw: Any) -> Rollout:
    """Fill a workspace, run the agent to its end in the sandbox, return the Rollout (blocking)."""
    return asyncio.run(play_async(**kw))


async def play_async(
    *,
    task: Task,
    case: Case,
    agent: Agent,
    agent_name: str,
    seed: int,
    instance: int,
    instance_source: str,
    isolation: str,
    transcript: Transcript,
    max_steps: int,
    max_tokens: int,
    time_limit: float,
) -> Rollout:
    """The rollout as a coroutine, so that one event loop can keep many in flight (``engine``).

    Workspace generation and sandbox set-up run in a thread; on any failure the workspace and the
    sandbox are gone before the exception leaves (nothing of an errored run is left behind).
    """
    t0 = time.monotonic()
    ws = Path(tempfile.mkdtemp(prefix="rltask-ws-"))
    sb: Sandbox | None = None
    lease = None
    try:
        def prepare() -> Sandbox:
            if task.files is not None:
                task.files(ws, instance)
            for junk in (".git",):
                if (ws / junk).exists():
                    raise RuntimeError(f"task workspace must not contain {junk}")
            box = sandboxes.create(ws, task.limits, isolation, **_image_options(task, isolation))
            give_tree(ws, getattr(box, "owner", None))
            return box

        sb = await asyncio.to_thread(prepare)
        ep = Episode(
            prompt=task.prompt_for(seed),
            system=task.system,
            tools=select(list(task.tools)),
            sandbox=sb,
            transcript=transcript,
            max_steps=max_steps,
            max_tokens=max_tokens,
            tool_timeout=task.limits.wall_s,
        )
        transcript.event("prompt", system=task.system, prompt=ep.prompt, tools=[t["name"] for t in ep.tool_specs()])
        try:
            try:
                await asyncio.wait_for(agent.run(ep), timeout=time_limit)
            except asyncio.TimeoutError:
                ep.finish("timeout")
            finally:
                await agent.aclose()
        except AgentError as e:
            transcript.event("error", kind="agent", message=str(e))
            raise
        lease = sb.detach_lease()  # the grader's runs of agent code reuse the agent's uid
        await asyncio.to_thread(sb.close)
    except BaseException:
        if sb is not None:
            try:
                sb.close()  # idempotent; here for a failure between create() and the agent's run
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        if lease is not None:
            from .sandbox._isolated import release_lease

            release_lease(lease)
        shutil.rmtree(ws, ignore_errors=True)
        raise
    if not ep.done:
        ep.finish("no_submission")
    return Rollout(
        task=task, seed=seed, case=case, answer=ep.answer, status=ep.status, workspace=ws,
        transcript=transcript, usage=ep.usage, steps=ep.steps, tool_calls=ep.tool_calls,
        seconds=time.monotonic() - t0, isolation=sb.isolation, agent=agent_name,
        instance=instance, instance_source=instance_source, lease=lease,
    )
