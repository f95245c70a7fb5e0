"""The sandbox interface: the only place agent code (and grading of agent artifacts) runs.

A Sandbox owns one workspace directory on the host. Every process it starts sees that directory
(as ``Sandbox.workdir`` inside) and nothing of the repository, ``tasks/``, home or other runs; it
runs with no network, a clean environment, as an unprivileged uid, under rlimits; and when
``exec`` returns, every process it started is dead.
"""
from __future__ import annotations

import abc
import dataclasses
import os
from pathlib import Path
from typing import ClassVar

GiB = 1024**3
MiB = 1024**2


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-exec resource limits. Wall time is enforced by the harness, the rest by rlimits."""

    wall_s: float = 300.0
    cpu_s: float = 600.0
    address_space: int = 8 * GiB  # >= 4 GiB so torch loads and trains
    nproc: int = 128
    file_size: int = 256 * MiB
    open_files: int = 256
    output: int = 64 * 1024  # bytes of stdout and of stderr kept (each; head and tail if longer)
    workspace: int = 1 * GiB  # disk the workspace may use, where the backend can enforce it
    # -- added later; the isolated backends enforce these --------------------------------------
    output_file: int = 64 * MiB  # stdout+stderr an exec may write in all before it is killed
    workspace_files: int = 100_000  # files and folders the workspace may hold
    tmp: int = 512 * MiB  # size of the private /tmp (and of /dev/shm) of each exec
    cpus: float = 0.0  # CPUs the engine gives a container (docker; 0: all of the machine's)


@dataclasses.dataclass
class ExecResult:
    """What one command did. ``limit`` names the limit that stopped it, if any.

    ``exit_code`` is None when the harness killed the command (wall time, output or workspace
    watcher), ``-N`` when signal N killed it (SIGXCPU: cpu_time, SIGXFSZ: file_size). ``stdout`` and
    ``stderr`` hold at most ``Limits.output`` bytes each: when longer, the head and the tail with a
    note of how much was omitted between them (``truncated`` is then True).
    ``limit`` is one of "wall_time", "output", "workspace", "cpu_time", "file_size", "memory"
    (best effort: MemoryError / bad_alloc / ENOMEM in stderr of a failed command) or None.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    limit: str | None = None  # "wall_time", "cpu_time", "memory", "file_size", "output", ...
    # peak resident memory in bytes of the largest process the command ran, from the kernel's
    # accounting (wait4 rusage) outside the sandbox; None where the backend cannot measure it
    peak_rss: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxError(RuntimeError):
    """The sandbox itself could not start or broke: a harness error, never the model's fault."""


class Sandbox(abc.ABC):
    """One isolated workspace. Subclasses register themselves by ``isolation`` name."""

    isolation: ClassVar[str]
    registry: ClassVar[dict[str, type[Sandbox]]] = {}
    # (uid, gid) agent processes run as, or None when they run as the harness's own user.
    # Episode.hand_over chowns harness-written workspace files to it.
    owner: tuple[int, int] | None = None

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        if "isolation" in cls.__dict__:
            Sandbox.registry[cls.isolation] = cls

    def __init__(self, workspace: Path, limits: Limits | None = None) -> None:
        self.workspace = Path(workspace)
        self.limits = limits or Limits()

    @property
    @abc.abstractmethod
    def workdir(self) -> str:
        """The workspace's path as processes inside the sandbox see it."""

    @classmethod
    @abc.abstractmethod
    def available(cls) -> str | None:
        """None if this backend works on this machine, else why not."""

    @abc.abstractmethod
    def exec(
        self,
        argv: list[str],
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run argv in the workspace; return when every process it started is dead."""

    def python(self, args: list[str], **kw) -> ExecResult:
        """Run the harness's interpreter (same venv, so torch etc. import) inside the sandbox."""
        return self.exec([self.python_executable(), *args], **kw)

    def python_executable(self) -> str:
        return interpreter()

    def detach_lease(self) -> object | None:
        """Hand over what makes this sandbox's processes look like themselves (its uid) so that a
        later sandbox of the same rollout can reuse it; None where there is nothing to keep."""
        return None

    def close(self) -> None:
        """Release resources; the workspace directory itself belongs to the caller."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_workspace(path: Path) -> Path:
    """Make ``path`` an empty workspace the sandbox uid may write to."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def interpreter() -> str:
    """The harness's interpreter by a path that exists inside a sandbox.

    ``sys.executable`` keeps the spelling it was started with (``tasks/../.venv/bin/python``),
    whose folders may not exist in the sandbox. The folder is resolved, the file name is kept:
    resolving the venv's ``python`` link itself would lose the virtual environment.
    """
    import sys

    exe = sys.executable
    return os.path.join(os.path.realpath(os.path.dirname(exe)), os.path.basename(exe))


def python_bin_dir() -> str:
    """The bin folder of the harness's interpreter environment (the venv's, if it runs in one)."""
    import sys

    return os.path.join(sys.prefix, "bin")


def environ_for_sandbox(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment agent processes get: nothing from the harness's own.

    PATH starts with the venv's bin, so ``python`` and ``pip`` inside are the harness's venv.
    """
    import sys

    env = {
        "PATH": python_bin_dir() + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": "agent",
        "LOGNAME": "agent",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": os.environ.get("RLTASK_SANDBOX_THREADS", "1"),
        "MPLBACKEND": "Agg",
    }
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    if extra:
        env.update(extra)
    return env
