"""Two budgets shared by every process of one session: CPU slots and model requests.

Rollouts wait on the model most of the time, so many are kept in flight; what they must not do is
thrash the cores (30 rollouts that each train a model) or flood the provider. Both budgets are
slot files under the session's folder (made by the controller, handed to xdist workers), held with
``flock``: a crashed holder's slot frees itself, and threads, event loops and processes share one
count.

* ``CpuSlots``: at most ``n`` (default: the cores) sandbox commands run at once: tool calls that
  execute code, ``Rollout.run`` and ``Rollout.grade``.
* ``RequestBudget``: at most ``limit`` model requests in flight. The limit adapts, AIMD-style: a
  429 or 529 halves it and holds new requests until the provider's ``retry-after`` has passed; a
  run of successes grows it back by one, up to its maximum. The state lives in one small file so
  every process of the session backs off together.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import AsyncIterator, Iterator

_local = threading.local()


def _try_lock(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:  # the folder went away (a session ended under us): slots are free again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


class CpuSlots:
    """A counting semaphore across threads and processes, ``n`` slot files in ``folder``."""

    def __init__(self, folder: Path, n: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = max(1, n or os.cpu_count() or 1)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Block until a slot is free; re-entrant in one thread (a grader's nested run keeps its slot)."""
        depth = getattr(_local, "cpu_depth", 0)
        if depth:
            _local.cpu_depth = depth + 1
            try:
                yield
            finally:
                _local.cpu_depth = depth
            return
        fd = None
        delay = 0.005
        while fd is None:
            for i in range(self.n):
                fd = _try_lock(self.folder / f"cpu-{i}")
                if fd is not None:
                    break
            else:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        _local.cpu_depth = 1
        try:
            yield
        finally:
            _local.cpu_depth = 0
            _unlock(fd)


class RequestBudget:
    """Model requests in flight across the session, with a limit that adapts to rate limits."""

    def __init__(self, folder: Path, maximum: int, start: int | None = None, grow_after: int = 4) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.maximum = max(1, maximum)
        self.grow_after = grow_after
        self.state_path = self.folder / "requests.json"
        self._state_lock = self.folder / "requests.lock"
        if not self.state_path.exists():
            self._write({"limit": start or self.maximum, "hold_until": 0.0, "ok_streak": 0, "backoffs": 0})

    # -- shared state --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        self.folder.mkdir(parents=True, exist_ok=True)  # a folder that went away comes back empty
        fd = os.open(self._state_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._read()
            yield state
            self._write(state)
        finally:
            _unlock(fd)

    def _read(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"limit": self.maximum, "hold_until": 0.0, "ok_streak": 0, "backoffs": 0}

    def _write(self, state: dict) -> None:
        tmp = self.state_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_path)

    # -- what the agents call --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def request(self) -> AsyncIterator[None]:
        """Hold one request slot while a model request (with the SDK's own retries) is in flight."""
        fd = None
        delay = 0.01
        while fd is None:
            st = self._read()
            wait = float(st.get("hold_until", 0.0)) - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))
                continue
            for i in range(max(1, int(st.get("limit", self.maximum)))):
                fd = _try_lock(self.folder / f"req-{i}")
                if fd is not None:
                    break
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            _unlock(fd)

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429/529 came back: halve the limit, and hold new requests until ``retry_after`` passes."""
        with self._locked() as st:
            st["limit"] = max(1, int(st.get("limit", self.maximum)) // 2)
            st["hold_until"] = max(float(st.get("hold_until", 0.0)), time.time() + min(retry_after or 1.0, 60.0))
            st["ok_streak"] = 0
            st["backoffs"] = int(st.get("backoffs", 0)) + 1

    def succeeded(self) -> None:
        """A 2xx: after ``grow_after`` in a row, one more request may be in flight."""
        st = self._read()
        if int(st.get("limit", self.maximum)) >= self.maximum and not st.get("ok_streak"):
            return  # at the maximum already: no write on the hot path
        with self._locked() as st:
            st["ok_streak"] = int(st.get("ok_streak", 0)) + 1
            if st["ok_streak"] >= self.grow_after and st["limit"] < self.maximum:
                st["limit"] += 1
                st["ok_streak"] = 0


def retry_after_seconds(headers: object) -> float | None:
    """The provider's wait from ``retry-after-ms`` or ``retry-after`` (seconds), if it sent one."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        raw = get(name)
        if raw:
            with contextlib.suppress(ValueError):
                return max(0.0, float(raw) * scale)
    return None


_session: dict[str, object] = {}


def configure(folder: Path | None, cpu: int | None, requests: int) -> dict[str, object]:
    """Set this process's budgets; returns the ones they replace, for ``restore``.

    A session inside a session (pytester's in-process runs) must hand the outer one's budgets
    back when it ends, or the outer session would hold slots in a folder that is gone.
    """
    previous = dict(_session)
    _session.clear()
    if folder is not None:
        _session["cpu"] = CpuSlots(Path(folder) / "cpu", cpu)
        _session["requests"] = RequestBudget(Path(folder) / "requests", requests)
    return previous


def restore(previous: dict[str, object]) -> None:
    _session.clear()
    _session.update(previous)


@contextlib.contextmanager
def cpu() -> Iterator[None]:
    """Hold a CPU slot for a sandbox command (a no-op outside a session)."""
    slots = _session.get("cpu")
    if slots is None:
        yield
        return
    with slots.hold():  # type: ignore[union-attr]
        yield


def requests() -> RequestBudget | None:
    return _session.get("requests")  # type: ignore[return-value]


@contextlib.asynccontextmanager
async def request_slot() -> AsyncIterator[None]:
    """Hold a model-request slot of the session (a no-op outside a session)."""
    rb = requests()
    if rb is None:
        yield
        return
    async with rb.request():
        yield


async def observe(response: object) -> None:
    """httpx response hook for the SDK clients: every answer, retried ones included, tunes the limit."""
    rb = requests()
    if rb is None:
        return
    status = getattr(response, "status_code", 0)
    if status in (429, 529):
        rb.rate_limited(retry_after_seconds(getattr(response, "headers", None)))
    elif 200 <= status < 300:
        rb.succeeded()
