"""The "bubblewrap" backend: the default wherever ``bwrap`` runs.

As root, each exec runs (without a user namespace, so the uid switch below is real)::

    setpriv --pdeathsig KILL -- bwrap <mounts> --unshare-{pid,net,ipc,uts,cgroup-try}
        --die-with-parent --new-session --seccomp FD --json-status-fd FD --chdir /ws --
      prlimit --as --cpu --nproc --fsize --nofile --core -- \\
      setpriv --reuid U --regid U --clear-groups --inh-caps=-all --bounding-set=-all
              --no-new-privs -- ARGV

Run by an unprivileged user (rootless), the same command runs with ``--unshare-user
--disable-userns --cap-drop ALL`` added and without the final ``setpriv``: agent code runs as
the harness's own uid inside a user namespace of its own, with no capabilities, no_new_privs
(bwrap always sets it), the same rlimits and seccomp filter, and no nested user namespace. The
peak-memory witness then runs as that uid too. It is pid 1 of the sandbox's pid namespace
(``--as-pid-1``), so the kernel drops the signals agent code sends it (SIGKILL included), and it
is non-dumpable, so agent code can neither ptrace it nor open its /proc fds or memory.

What the agent sees: a root of its own (tmpfs) holding /usr (read-only) and the /bin, /lib…
links, a handful of world-readable /etc files plus a generated passwd/group/hosts, the
interpreter's prefix and the venv read-only at their host paths (each missing parent created
0755: otherwise the loader silently falls back to Debian's python3), a fresh /proc of its own pid
namespace, a minimal /dev, private size-capped tmpfs /tmp and /dev/shm, and the workspace
read-write at /ws. Nothing else of the host: not the repository, ``tasks/``, /root, /home or
other runs' workspaces. Network: a private namespace with only loopback (up), so nothing on the
host or beyond is reachable, DNS fails. Environment: exactly ``environ_for_sandbox`` (the
launcher is started with that environment, nothing inherited).

The agent runs as its own unprivileged uid (see ``_isolated``: one per Sandbox instance) with no
capabilities, no_new_privs, rlimits, and a seccomp filter that refuses new user namespaces.

What is not contained, or only approximately (both namespace backends):

* Exit codes 129..159 are reported as -(code - 128): bwrap reports "killed by signal N" as
  128 + N, so a program that itself exits with 137 is reported as killed by signal 9. (The
  unshare backend reports exact statuses.)
* Memory is capped per process by RLIMIT_AS only (no cgroup: on this machine the memory cgroup
  belongs to the machinery running us): ``nproc`` processes could together map
  ``nproc * address_space``, and the private /tmp and /dev/shm (tmpfs, ``Limits.tmp`` each)
  are RAM not counted by RLIMIT_AS. They are freed when the exec ends.
* The workspace is a bind mount of a host folder, so its disk use is watched, not capped by the
  kernel: once a second during the exec and once after it. A fast writer can overshoot
  ``Limits.workspace`` by what it writes in about a second (each file is capped by
  ``file_size``); the exec is then killed and reports ``limit="workspace"``.
* RLIMIT_NPROC counts threads too; it is per uid, hence per Sandbox.
* Not hidden inside: /proc of the sandbox's own pid namespace (including host-wide files such
  as /proc/meminfo, /proc/cpuinfo, /proc/sys read-only), /usr, the venv and the interpreter.
* The seccomp filter only blocks new user namespaces and foreign syscall ABIs; the rest of the
  kernel surface is open to the unprivileged uid.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile

from . import _seccomp

from ._isolated import REAPER_SOURCE, IsolatedSandbox, probe, rlimits
from .base import SandboxError, interpreter

_PRLIMIT_FLAGS = {
    "RLIMIT_AS": "--as", "RLIMIT_CPU": "--cpu", "RLIMIT_NPROC": "--nproc",
    "RLIMIT_FSIZE": "--fsize", "RLIMIT_NOFILE": "--nofile", "RLIMIT_CORE": "--core",
}


class BwrapSandbox(IsolatedSandbox):
    isolation = "bubblewrap"
    supports_rootless = True
    _available: str | None | bool = False  # False: not probed yet in this process

    @classmethod
    def available(cls) -> str | None:
        if cls._available is False:
            cls._available = cls._check()
        return cls._available  # type: ignore[return-value]

    @classmethod
    def _check(cls) -> str | None:
        for tool in ("bwrap", "setpriv", "prlimit"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (apt-get install bubblewrap util-linux)"
        try:
            subprocess.run(["bwrap", "--version"], capture_output=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            return f"bwrap does not run: {e}"
        why = probe(cls)
        if why and os.geteuid() != 0:
            hint = userns_hint()
            why += f"; {hint}" if hint else ""
        return why

    def _base_args(self) -> list[str]:
        cached = getattr(self, "_base", None)
        if cached is not None:
            return cached
        plan = self.plan
        a = [
            shutil.which("bwrap") or "/usr/bin/bwrap",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            # the witness (_reaper) is the namespace's init itself: the kernel drops every signal
            # sent to an init from inside its namespace that it has no handler for, SIGKILL too
            "--as-pid-1",
        ]
        if self.rootless:  # no uid switch possible: a user namespace, and none nested in it
            a += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        size = str(self.limits.tmp)
        # /proc, /dev and the private /tmp come first: a venv that lives under /tmp (a clone in
        # /tmp) is then bound on top of the tmpfs instead of being hidden by it.
        a += [
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
            "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
        ]
        for d in plan.parents():
            if d not in ("/tmp", "/dev", "/proc", "/dev/shm"):
                a += ["--perms", "0755", "--dir", d]
        for name, target in plan.top_links:
            a += ["--symlink", target, "/" + name]
        for src, dst in plan.ro:
            a += ["--ro-bind", src, dst]
        a += ["--bind", str(self.workspace), self.workdir, "--chdir", self.workdir]
        a += ["--remount-ro", "/"]  # rootless, the root tmpfs would be the agent's to write
        self._base = a
        return a

    def _command(self, argv, status_fd, stack: contextlib.ExitStack):
        fds = [status_fd]
        cmd = [shutil.which("setpriv") or "/usr/bin/setpriv", "--pdeathsig", "KILL", "--", *self._base_args()]
        prog = _seccomp.program()
        if prog is not None:
            fd = self._pipe_with(prog, stack)
            cmd += ["--seccomp", str(fd)]
            fds.append(fd)
        cmd += ["--json-status-fd", str(status_fd), "--"]
        # the peak-memory witness: root (as root) or non-dumpable (rootless), see _reaper; its fd
        # number travels in the environment, so its command line is the same for every exec
        cmd += [interpreter(), "-I", "-S", "-c", REAPER_SOURCE, "env", "--"]
        fds.append(self._peak_fd)
        cmd += [shutil.which("prlimit") or "/usr/bin/prlimit"]
        for name, (soft, hard) in rlimits(self.limits).items():
            cmd.append(f"{_PRLIMIT_FLAGS[name]}={soft}:{hard}")
        cmd += ["--"]
        if not self.rootless:
            cmd += [*self._setpriv(), "--"]
        cmd += argv
        return cmd, fds

    def _decode(self, returncode, status, stderr_head):
        # bwrap writes {"exit-code": N} only when the command it started has exited; a failed
        # setup (a mount, the exec of prlimit) leaves it out.
        code = None
        for line in status.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError, TypeError):
                doc = json.loads(line)
                if isinstance(doc, dict) and "exit-code" in doc:
                    code = int(doc["exit-code"])
        if code is None:
            raise SandboxError(f"bwrap could not start the sandbox (exit {returncode}): {stderr_head.strip()[:500]}")
        if 129 <= code <= 159:
            return -(code - 128)
        return code


def userns_hint() -> str | None:
    """Why this kernel refuses an unprivileged user namespace, and the fix, when it says so."""
    def read(path: str) -> str | None:
        try:
            with open(path) as fh:
                return fh.read().strip()
        except OSError:
            return None

    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return ("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, "
                "Ubuntu >= 23.10): allow bwrap with an AppArmor profile (/etc/apparmor.d/bwrap: "
                "'abi <abi/4.0>, include <tunables/global> profile bwrap /usr/bin/bwrap flags=(unconfined) "
                "{ userns, }' then 'apparmor_parser -r /etc/apparmor.d/bwrap'), or "
                "'sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0', or run as root")
    if read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return ("the kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone=0): "
                "'sudo sysctl kernel.unprivileged_userns_clone=1', or run as root")
    if read("/proc/sys/user/max_user_namespaces") == "0":
        return ("user namespaces are disabled (user.max_user_namespaces=0): "
                "'sudo sysctl user.max_user_namespaces=15000', or run as root")
    return None


def _selftest() -> None:  # pragma: no cover - manual check: python -m pytest_rltask.sandbox.bwrap
    with tempfile.TemporaryDirectory() as d, BwrapSandbox(__import__("pathlib").Path(d)) as sb:
        print(sb.exec(["python", "-c", "import os,sys; print(os.getuid(), sys.prefix)"]))


if __name__ == "__main__":  # pragma: no cover
    _selftest()
