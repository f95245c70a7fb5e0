"""No isolation: a plain subprocess in the workspace. Only for opted-in local debugging.

Agent code runs as the harness's own user with the harness's filesystem and network; only the
environment is cleaned (``environ_for_sandbox``) and wall time enforced. Processes that leave the
process group (``setsid``) are not tracked and can outlive ``exec``.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time

from ._isolated import read_capped
from .base import ExecResult, Sandbox, environ_for_sandbox


@contextlib.contextmanager
def _removed(path: str):
    try:
        yield
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


class NoSandbox(Sandbox):
    isolation = "none"

    @property
    def workdir(self) -> str:
        return str(self.workspace.resolve())

    @classmethod
    def available(cls) -> str | None:
        return None

    def exec(self, argv, *, timeout=None, stdin=None, env=None) -> ExecResult:
        timeout = timeout or self.limits.wall_s
        t0 = time.monotonic()
        # a private TMPDIR and HOME per exec (torchrun, caches): nothing is left in the host's /tmp
        private = tempfile.mkdtemp(prefix="rltask-tmp-")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, _removed(private):
            full_env = environ_for_sandbox(env)
            full_env.update(TMPDIR=private, HOME=private)
            proc = subprocess.Popen(
                argv, cwd=self.workdir, stdout=out, stderr=err,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                env=full_env, start_new_session=True,
            )
            timed_out = False
            try:
                proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # background children left in the group
            o, t_o = read_capped(out, self.limits.output)
            e, t_e = read_capped(err, self.limits.output)
        trunc = t_o or t_e
        return ExecResult(
            exit_code=None if timed_out else proc.returncode, stdout=o, stderr=e,
            duration_s=time.monotonic() - t0, timed_out=timed_out, truncated=trunc,
            limit="wall_time" if timed_out else ("output" if trunc else None),
        )
