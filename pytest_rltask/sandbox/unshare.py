"""The "unshare" backend: the fallback where bubblewrap is missing (needs util-linux and root).

Each exec runs (as root)::

    setpriv --pdeathsig KILL -- unshare --mount --net --pid --ipc --uts --cgroup --fork
        --kill-child --propagation private -- python -I -S _nsinit.py CONFIG

``_nsinit.py`` is pid 1 of the new namespaces. Still root, it mounts a tmpfs as the new root,
binds into it the same things the bubblewrap backend shows (/usr and the /bin, /lib… links read-
only, a few world-readable /etc files and a generated passwd/group/hosts, the interpreter prefix
and venv read-only at their host paths, the workspace read-write at /ws), mounts private /proc,
/tmp, /dev/shm and a minimal /dev, then ``pivot_root``\\ s into it and detaches the host's tree.
It brings loopback up, then forks the agent command: ``setsid``, rlimits, the seccomp filter
(no new user namespaces), then ``setpriv --reuid U --regid U --clear-groups --inh-caps=-all
--bounding-set=-all --no-new-privs`` to the sandbox uid. When that command exits, init writes its
exact wait status (so signals are reported exactly) and exits; the kernel then kills everything
left in the pid namespace.

What it hides, and what it does not:

* The host filesystem is not reachable by path: the old root is detached after ``pivot_root``.
  So the repository, ``tasks/``, /root, /home and other runs' workspaces are not visible even
  where they are world-readable. ``/proc/1/root`` is init's root (the new one) and is not
  readable by the sandbox uid anyway.
* ``/proc/1/cmdline`` (init's command line: the hex-encoded config with host paths of the workspace,
  venv and interpreter, the uid and the argv) is readable inside. It holds no secrets.
* If the helper cannot build the new root (a mount fails), the exec raises SandboxError; it never
  falls back to running on the host's tree.
* Same limits as bubblewrap: memory is capped per process by RLIMIT_AS only.

Unlike the bubblewrap backend, the interpreter starting the helper costs ~15-20 ms per exec.
"""
from __future__ import annotations

import contextlib
import marshal
import os
import shutil
import sys
from pathlib import Path

from . import _seccomp
from ._isolated import IsolatedSandbox, probe, rlimits
from .base import SandboxError, interpreter

_HELPER = str(Path(__file__).with_name("_nsinit.py"))


class UnshareSandbox(IsolatedSandbox):
    isolation = "unshare"
    _available: str | None | bool = False

    @classmethod
    def available(cls) -> str | None:
        if cls._available is False:
            cls._available = cls._check()
        return cls._available  # type: ignore[return-value]

    @classmethod
    def _check(cls) -> str | None:
        for tool in ("unshare", "setpriv"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (util-linux)"
        if os.geteuid() != 0:
            return "the unshare backend needs root (setpriv switches agent code to a sandbox uid)"
        return probe(cls)

    def _config(self) -> dict:
        cached = getattr(self, "_cfg", None)
        if cached is not None:
            return cached
        stage = self._private / "root"
        stage.mkdir(mode=0o700, exist_ok=True)
        plan = self.plan
        prog = _seccomp.program()
        self._cfg = {
            "stage": str(stage),
            "top_links": plan.top_links,
            "ro": plan.ro,
            "workspace": str(self.workspace),
            "workdir": self.workdir,
            "tmp": self.limits.tmp,
            "rlimits": rlimits(self.limits),
            "seccomp": prog.hex() if prog else None,
            "setpriv": self._setpriv(),
        }
        return self._cfg

    def _command(self, argv, status_fd, stack: contextlib.ExitStack):
        cfg = dict(self._config(), argv=argv, status_fd=status_fd)
        cmd = [
            shutil.which("setpriv") or "/usr/bin/setpriv", "--pdeathsig", "KILL", "--",
            shutil.which("unshare") or "/usr/bin/unshare",
            "--mount", "--net", "--pid", "--ipc", "--uts", "--cgroup", "--fork", "--kill-child",
            "--propagation", "private", "--",
            interpreter(), "-I", "-S", _HELPER, marshal.dumps(cfg).hex(),
        ]
        return cmd, [status_fd]

    def _decode(self, returncode, status, stderr_head):
        text = status.decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("error "):
                raise SandboxError(f"unshare sandbox could not start: {line[6:]}")
            if line.startswith("status "):
                raw = line.split()[1]
                if raw == "None":
                    break
                return os.waitstatus_to_exitcode(int(raw))
        raise SandboxError(
            f"unshare sandbox init died without a status (launcher exit {returncode}): {stderr_head.strip()[:500]}"
        )
