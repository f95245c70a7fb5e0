"""The "docker" backend: one container per exec, for users who need an engine (macOS, a task's own
system packages, containers on another host through ``DOCKER_HOST``).

Each exec runs::

    docker run --name rltask-... --network none --read-only --memory M --memory-swap M --cpus C
        --pids-limit P --cap-drop ALL --cap-add SETUID,SETGID,SETPCAP,KILL --security-opt
        no-new-privileges --user 0:0 --tmpfs /tmp --shm-size S --mount type=bind,src=WS,dst=/ws
        -w /ws -v /run/rltask -e K=V... IMAGE \\
      PY -I -S -c REAPER /run/rltask/w -- prlimit ... -- setpriv --reuid U ... -- ARGV

so inside the container the chain is the same as the root bubblewrap backend's: the trusted
witness (``_reaper``) is pid 1 and root, the rlimits, then the switch to the sandbox uid (one per
Sandbox instance, ``allocate_uid``, when the harness is root; the harness's own uid otherwise)
with no capabilities and no_new_privs. The engine adds its own limits: memory (``address_space``,
no swap) and pids for the whole container, CPUs (``Limits.cpus``), a read-only root, network
``none`` (never the engine's bridge), docker's default seccomp profile. The witness writes its
``peak``/``exit`` lines into a folder only root may enter: as root with a local engine a bind
mount of a root-only host folder (and ``--rm``); otherwise an anonymous volume that the harness
copies out (``docker cp``) once the container has stopped, then removes with the container.

Images: an image that holds its own Python names it with the label ``rltask.python`` (the
interpreter's path inside; it needs ``prlimit`` and ``setpriv`` from util-linux too). An image
with the label ``rltask.mount-python=1`` (what ``build_host_image`` makes: the host's system
libraries and a few tools, no Python) gets the harness's interpreter prefix and virtual
environment bind-mounted read-only at their host paths, so agent code runs on exactly the
harness's packages; that needs the engine on this machine. The image is chosen by ``image=``, else
the process default (``--rl-image``, ``configure``).

DOCKER_HOST (and DOCKER_CONTEXT, DOCKER_CONFIG, TLS settings) pass to the docker CLI only. The
workspace is a bind mount, so a remote engine must see the same path (a shared file system).

What it does not contain: the kernel is the host's (a container is not a VM); /proc shows
host-wide files such as /proc/meminfo; the engine's memory limit counts the whole container
(tmpfs /tmp included), RLIMIT_AS each process. Start costs a container (see
``benchmarks/sandbox_overhead.py``).
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

from ._isolated import REAPER_SOURCE, IsolatedSandbox, _python_roots, etc_template, kill_uid, rlimits
from ._isolated import _sweep_uid
from .base import Limits, SandboxError, interpreter

_PRLIMIT_FLAGS = {
    "RLIMIT_AS": "--as", "RLIMIT_CPU": "--cpu", "RLIMIT_NPROC": "--nproc",
    "RLIMIT_FSIZE": "--fsize", "RLIMIT_NOFILE": "--nofile", "RLIMIT_CORE": "--core",
}
WITNESS_DIR = "/run/rltask"
CLIENT_ENV = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
              "DOCKER_CERT_PATH", "DOCKER_API_VERSION", "XDG_RUNTIME_DIR")

_default_image: str | None = os.environ.get("RLTASK_IMAGE") or None
_image_info: dict[str, dict[str, str]] = {}


def configure(image: str | None) -> None:
    """The image sandboxes use when none is given (``--rl-image``)."""
    global _default_image
    if image:
        _default_image = image


def default_image() -> str | None:
    return _default_image


def docker_cli() -> str:
    return shutil.which("docker") or "docker"


def client_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in CLIENT_ENV}


def _docker(*args: str, timeout: float = 60, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([docker_cli(), *args], capture_output=True, timeout=timeout, input=input,
                          env=client_env())


def engine_is_local() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def image_labels(image: str) -> dict[str, str]:
    """The image's labels (cached per process); SandboxError if the engine has no such image."""
    if image not in _image_info:
        r = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", image, timeout=30)
        if r.returncode != 0:
            raise SandboxError(f"docker image {image!r} is not on the engine: {r.stderr.decode(errors='replace').strip()[:300]} "
                               "(build one with: python -m pytest_rltask.sandbox.docker build TAG)")
        import json

        _image_info[image] = json.loads(r.stdout.decode() or "null") or {}
    return _image_info[image]


def _usr_python() -> list[str]:
    """A system interpreter (Debian's /usr/bin/python3.11) is not in the host image: its binary
    and standard library are mounted too (the bubblewrap backends get them with all of /usr)."""
    v = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    chain, path = [], interpreter()
    for _ in range(10):  # every link of venv/bin/python -> /usr/bin/python3 -> python3.11
        if not os.path.islink(path):
            break
        path = os.path.join(os.path.dirname(path), os.readlink(path))
        chain.append(os.path.normpath(path))
    out = []
    for path in [*chain, os.path.realpath(interpreter()), os.path.join(sys.base_prefix, "lib", v)]:
        if path.startswith("/usr/") and os.path.exists(path) and path not in out:
            out.append(path)
    return out


class DockerSandbox(IsolatedSandbox):
    isolation = "docker"
    supports_rootless = True  # a non-root harness with engine access runs agent code as its own uid
    _available: dict[str | None, str | None] = {}

    def __init__(self, workspace: Path, limits: Limits | None = None, *, image: str | None = None,
                 extra_ro: list[str] | tuple = ()) -> None:
        self.image = image or _default_image
        if not self.image:
            raise SandboxError("the docker backend needs an image: give --rl-image IMAGE (or build one with "
                               "python -m pytest_rltask.sandbox.docker build TAG)")
        labels = image_labels(self.image)
        self.mount_python = labels.get("rltask.mount-python") == "1"
        # a borrowed interpreter is this process's own, whatever the image was built with
        self._python = interpreter() if self.mount_python else (labels.get("rltask.python") or "python3")
        if self.mount_python and not engine_is_local():
            raise SandboxError(f"image {self.image!r} borrows the host's Python (rltask.mount-python=1), which a "
                               f"remote engine (DOCKER_HOST={os.environ.get('DOCKER_HOST')}) cannot mount; use an "
                               "image with its own Python (label rltask.python)")
        self._extra_ro = list(extra_ro)
        # as root with a local engine the witness writes into a root-only host folder
        self._local_witness = os.geteuid() == 0 and engine_is_local()
        self._names: list[str] = []
        self._witness = b""
        super().__init__(workspace, limits, extra_ro=())

    @classmethod
    def available(cls) -> str | None:
        key = _default_image
        if key not in cls._available:
            cls._available[key] = cls._check()
        return cls._available[key]

    @classmethod
    def _check(cls) -> str | None:
        if shutil.which("docker") is None:
            return "the docker CLI is not installed (apt-get install docker.io, or Docker Desktop)"
        try:
            r = _docker("version", "--format", "{{.Server.Version}}", timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            return f"docker does not answer: {e}"
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip()[:300]
            return (f"no docker engine answers (DOCKER_HOST={os.environ.get('DOCKER_HOST') or 'default'}): {err}; "
                    "start one (dockerd, systemctl start docker) or point DOCKER_HOST at one")
        if not _default_image:
            return "no image for the docker backend: give --rl-image IMAGE (python -m pytest_rltask.sandbox.docker build TAG makes one)"
        try:
            with tempfile.TemporaryDirectory(prefix="rltask-probe-") as d:
                with cls(Path(d) / "ws", Limits(wall_s=60)) as sb:
                    res = sb.exec([sb.python_executable(), "-I", "-c", "print(6 * 7)"])
            if res.exit_code != 0 or res.stdout.strip() != "42":
                return f"trial run in {_default_image!r} failed (exit {res.exit_code}): {res.stderr.strip()[:300]}"
        except (SandboxError, OSError) as e:
            return f"trial run failed: {e}"
        return None

    def python_executable(self) -> str:
        return self._python

    def _launcher_env(self, sandbox_env: dict[str, str]) -> dict[str, str]:
        return client_env()

    def _command(self, argv, status_fd, stack: contextlib.ExitStack):
        lim = self.limits
        name = f"rltask-{self.uid}-{uuid.uuid4().hex[:12]}"
        self._names.append(name)
        self._witness = b""
        cpus = lim.cpus or float(os.cpu_count() or 1)
        cmd = [
            docker_cli(), "run", "-i", "--name", name, "--label", f"rltask.sandbox={id(self)}-{os.getpid()}",
            "--network", "none", "--read-only", "--hostname", "sandbox", "--ipc", "private",
            "--memory", str(lim.address_space), "--memory-swap", str(lim.address_space),
            "--cpus", f"{min(cpus, float(os.cpu_count() or 1)):g}", "--pids-limit", str(lim.nproc + 16),
            # the root witness keeps only what it needs: switching uid, dropping the bounding set,
            # and killing what the command left (setpriv takes all of them from agent code)
            "--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID", "--cap-add", "SETPCAP",
            "--cap-add", "KILL",
            "--security-opt", "no-new-privileges", "--user", "0:0", "--log-driver", "none",
            "--tmpfs", f"/tmp:rw,nosuid,nodev,size={lim.tmp},mode=1777", "--shm-size", str(lim.tmp),
            "--mount", f"type=bind,src={self.workspace},dst={self.workdir}", "-w", self.workdir,
        ]
        if self._local_witness:
            # a root-only host folder (the private dir is root's, 0700): read after the run, no cp
            wdir = self._private / "witness"
            shutil.rmtree(wdir, ignore_errors=True)
            wdir.mkdir(mode=0o700)
            cmd += ["--rm", "--mount", f"type=bind,src={wdir},dst={WITNESS_DIR}"]
        else:
            cmd += ["-v", WITNESS_DIR]  # an anonymous volume, copied out once the container stopped
        if self.mount_python:
            for r in _python_roots() + _usr_python() + [os.path.realpath(p) for p in self._extra_ro]:
                cmd += ["--mount", f"type=bind,src={r},dst={r},readonly"]
            for n in ("passwd", "group"):
                cmd += ["--mount", f"type=bind,src={self._private / n},dst=/etc/{n},readonly"]
        for k, v in self._exec_env.items():
            cmd += ["-e", f"{k}={v}"]
        cmd += ["--entrypoint", self._python, self.image, "-I", "-S", "-c", REAPER_SOURCE,
                f"{WITNESS_DIR}/w", "--", "prlimit"]
        for n, (soft, hard) in rlimits(self.limits).items():
            cmd.append(f"{_PRLIMIT_FLAGS[n]}={soft}:{hard}")
        cmd += ["--", "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]
        return cmd, []

    def _reap(self) -> None:
        """Copy the witness's lines out of the stopped container, then remove it and its volume."""
        name = self._names[-1] if self._names else None
        if name is None:
            return
        if self._local_witness:
            try:
                self._witness = (self._private / "witness" / "w").read_bytes()[:4096]
                os.pwrite(self._peak_fd, self._witness, 0)
            except OSError:
                self._witness = b""
            if b"\nexit " in self._witness:  # the witness saw the end: --rm removes the container
                self._names.remove(name)
            else:  # stopped by the harness (or never started): remove it ourselves
                self._remove(name)
            if not self.rootless:
                kill_uid(self.uid)
            return
        try:
            r = _docker("cp", f"{name}:{WITNESS_DIR}/w", "-", timeout=60)
            if r.returncode == 0:
                with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
                    m = next((m for m in tf.getmembers() if m.isfile()), None)
                    if m is not None and m.size < 4096:
                        self._witness = tf.extractfile(m).read()
                        os.pwrite(self._peak_fd, self._witness, 0)
        finally:
            self._remove(name)
        if not self.rootless and engine_is_local():
            kill_uid(self.uid)  # the container is gone; nothing of its uid may run on this host

    def _remove(self, name: str) -> None:
        r = _docker("rm", "-f", "-v", name, timeout=120)
        if r.returncode != 0 and b"No such container" not in r.stderr:
            raise SandboxError(f"docker could not remove container {name}: {r.stderr.decode(errors='replace')[:300]}")
        self._names.remove(name)

    def leftovers(self) -> list[int]:
        # containers of this sandbox still running (a stopped one being removed by --rm runs nothing)
        r = _docker("ps", "-q", "--filter", f"label=rltask.sandbox={id(self)}-{os.getpid()}", timeout=30)
        alive = [1] * len(r.stdout.split())
        if not self.rootless and engine_is_local():
            alive += _sweep_uid(self.uid)
        return alive

    def _decode(self, returncode, status, stderr_head):
        code = None
        for line in self._witness.decode(errors="replace").splitlines():
            if line.startswith("exit "):
                with contextlib.suppress(ValueError):
                    code = int(line.split()[1])
        if code is None:
            raise SandboxError(f"docker could not run the container (exit {returncode}): {stderr_head.strip()[:500]}")
        if 129 <= code <= 159:
            return -(code - 128)
        return code

    def close(self) -> None:
        for name in list(getattr(self, "_names", [])):
            with contextlib.suppress(Exception):
                self._remove(name)
        super().close()


# -- an image made here, without a registry ---------------------------------------------------------
HOST_TOOLS = (
    "bash", "sh", "dash", "cat", "ls", "cp", "mv", "rm", "mkdir", "rmdir", "echo", "sleep", "true", "false",
    "env", "id", "head", "tail", "wc", "sort", "uniq", "grep", "sed", "awk", "mawk", "tr", "cut", "touch",
    "chmod", "ln", "readlink", "realpath", "dirname", "basename", "find", "xargs", "tee", "date", "setsid",
    "nohup", "timeout", "kill", "stat", "du", "df", "test", "[", "printf", "expr", "seq", "yes", "gzip",
    "tar", "which", "setpriv", "prlimit", "unshare", "bwrap", "pwd", "uname", "nproc", "md5sum", "sha256sum",
    "diff", "cmp", "mktemp", "ps",
)


def _host_rootfs(out) -> None:
    """A root file system tar for ``docker import``: the host's /usr/lib libraries, a few tools,
    the sandbox /etc; no Python (the backend mounts the harness's, label rltask.mount-python)."""
    with tarfile.open(fileobj=out, mode="w|") as tf:
        def add_dir(path: str, mode: int = 0o755) -> None:
            ti = tarfile.TarInfo(path.lstrip("/"))
            ti.type, ti.mode = tarfile.DIRTYPE, mode
            tf.addfile(ti)

        for d in ("/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/tmp", "/ws", "/run", "/proc", "/dev", "/sys"):
            add_dir(d, 0o1777 if d == "/tmp" else 0o755)
        for name in ("bin", "sbin", "lib", "lib64"):
            if os.path.islink("/" + name):
                ti = tarfile.TarInfo(name)
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink("/" + name)
                tf.addfile(ti)
        for lib in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/locale"):
            if os.path.isdir(lib):
                tf.add(lib, lib.lstrip("/"))
        seen = set()
        for tool in HOST_TOOLS:
            path = shutil.which(tool, path="/usr/bin:/usr/sbin:/bin:/sbin")
            if not path:
                continue
            path = "/usr" + path if not path.startswith("/usr/") else path
            for p in (path, os.path.realpath(path)):
                if p not in seen and os.path.exists(p) and p.startswith("/usr/"):
                    seen.add(p)
                    tf.add(p, p.lstrip("/"), recursive=False)
        tf.add(etc_template(), "etc")


def build_host_image(tag: str = "rltask-host:latest") -> str:
    """Build ``tag`` from this host with ``docker import`` (no registry): see ``_host_rootfs``."""
    labels = ["LABEL rltask.mount-python=1"]
    cmd = [docker_cli(), "import"]
    for c in labels:
        cmd += ["--change", c]
    cmd += ["-", tag]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=client_env())
        try:
            _host_rootfs(proc.stdin)
        finally:
            proc.stdin.close()
            proc.wait(timeout=900)
        err.seek(0)
        if proc.returncode != 0:
            raise SandboxError(f"docker import failed: {err.read().decode(errors='replace')[:500]}")
    _image_info.pop(tag, None)
    return tag


if __name__ == "__main__":  # pragma: no cover - python -m pytest_rltask.sandbox.docker build [TAG]
    if len(sys.argv) >= 2 and sys.argv[1] == "build":
        print(build_host_image(sys.argv[2] if len(sys.argv) > 2 else "rltask-host:latest"))
    else:
        print("usage: python -m pytest_rltask.sandbox.docker build [TAG]", file=sys.stderr)
        sys.exit(2)
