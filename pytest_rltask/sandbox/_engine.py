"""A private docker engine for the tests and the benchmark: started here, stopped at exit.

``dockerd`` (Debian's docker.io) runs with its own socket and exec root in a temporary folder and
its image store in ``~/.cache/pytest-rltask/dockerd-N`` (outside /tmp, kept, so the host image is
built once per slot; one slot per concurrent process), with no bridge, no iptables and no forwarding: containers get network ``none`` only.
``engine()`` returns the reason it cannot run, or None with ``DOCKER_HOST`` pointing at it and the
docker backend configured with an image built here by ``docker import`` (no registry).
``RLTASK_TEST_DOCKER_HOST`` uses an engine that already runs instead.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_state: dict[str, object] = {}


def _image_tag() -> str:
    from . import docker

    key = "\n".join([*docker.HOST_TOOLS, Path(docker.__file__).read_text()]).encode()
    return "rltask-host:" + hashlib.sha256(key).hexdigest()[:12]


def _version(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                          env=env, timeout=30)


def _start() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    if os.environ.get("RLTASK_TEST_DOCKER_HOST"):
        os.environ["DOCKER_HOST"] = os.environ["RLTASK_TEST_DOCKER_HOST"]
        return None
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None)
    if dockerd is None:
        return "dockerd is not installed (apt-get install docker.io) and RLTASK_TEST_DOCKER_HOST is not set"
    if os.geteuid() != 0:
        return "starting dockerd needs root here (set RLTASK_TEST_DOCKER_HOST to an engine you may use)"
    # one engine per process (xdist workers each start their own): slot N is held with a lock
    import fcntl

    cache = Path.home() / ".cache" / "pytest-rltask"
    cache.mkdir(parents=True, exist_ok=True)
    for slot in range(16):
        fd = os.open(cache / f"dockerd-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _state["lock"] = fd
        break
    else:
        return "all 16 engine slots in ~/.cache/pytest-rltask are in use"
    data = cache / f"dockerd-{slot}"
    data.mkdir(exist_ok=True)
    run = tempfile.mkdtemp(prefix="rltask-dockerd-")
    sock = f"unix://{run}/sock"
    log = open(os.path.join(run, "log"), "wb")
    proc = subprocess.Popen(
        [dockerd, "--data-root", str(data), "--exec-root", f"{run}/exec", "--pidfile", f"{run}/pid",
         "-H", sock, "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
         "--ip-masq=false", "--userland-proxy=false"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    _state.update(proc=proc, run=run, log=log)
    atexit.register(stop)
    env = dict(os.environ, DOCKER_HOST=sock)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.flush()
            tail = Path(run, "log").read_text(errors="replace")[-600:]
            stop()
            return f"dockerd exited ({proc.returncode}): {tail}"
        if _version(env).returncode == 0:
            os.environ["DOCKER_HOST"] = sock
            return None
        time.sleep(0.5)
    stop()
    return "dockerd did not answer within 90 s"


def stop() -> None:
    """Stop the engine started here (if any) and remove its run folder."""
    _state.pop("why", None)
    proc = _state.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = _state.pop("log", None)
    if log is not None:
        log.close()
    run = _state.pop("run", None)
    if run is not None:
        subprocess.run(["umount", "-R", "-l", f"{run}/exec"], capture_output=True)
        shutil.rmtree(run, ignore_errors=True)
    lock = _state.pop("lock", None)
    if lock is not None:
        os.close(lock)


def engine() -> str | None:
    """None once an engine answers and the backend has an image; else why not (say it in a skip)."""
    if "why" not in _state:
        why = _start()
        if why is None:
            why = _ensure_image()
        _state["why"] = why
    return _state["why"]  # type: ignore[return-value]


def _ensure_image() -> str | None:
    from . import docker

    tag = _image_tag()
    r = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=60)
    if r.returncode != 0:
        try:
            docker.build_host_image(tag)
        except Exception as e:  # noqa: BLE001
            return f"could not build the test image with docker import: {e}"
    docker.configure(tag)
    docker.DockerSandbox._available.clear()
    return None


if __name__ == "__main__":  # pragma: no cover - python -m pytest_rltask.sandbox._engine
    print(engine() or f"engine up at {os.environ['DOCKER_HOST']}, image {_image_tag()}", file=sys.stderr)
