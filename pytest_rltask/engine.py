"""The rollout engine: one event loop per process keeps up to N rollouts in flight.

A run item asks for its own rollout and then grades; the engine has already started the rollouts
of the other run items of the same task that this process will run (its own items: at ``-n 0``
every selected item; under xdist the task is sent whole to one worker, so the worker's
``session.items`` of that task are its own). A rollout is started at most once per item, only for
an item that is selected here, and never after its task's band verdict is already decided
(the ``gate`` a rollout waits on). Rollouts wait on the model most of the time, so the loop overlaps them; CPU-heavy
tool calls are held to the free cores by ``budget.CpuSlots``.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable

Factory = Callable[[], Awaitable[Any]]


class Engine:
    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=max(8, 2 * self.concurrency),
                                                  thread_name_prefix="rltask-tool")
        )
        self._thread = threading.Thread(target=self._loop.run_forever, name="rltask-engine", daemon=True)
        self._thread.start()
        self._gate = asyncio.Semaphore(self.concurrency)  # bound lazily to the loop on first use (3.10+)
        self._futures: dict[str, concurrent.futures.Future] = {}
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    # -- submitting --------------------------------------------------------------------------
    def submit(self, key: str, factory: Factory, group: str = "",
               gate: Callable[[], str] | None = None) -> concurrent.futures.Future:
        """Start the rollout ``key`` (once); ``factory()`` makes its coroutine when a slot is free.

        ``gate()`` says whether it may start yet: ``"go"``, ``"wait"`` (the runs before it must
        be graded first: they might decide its task) or ``"skip"`` (decided: never played).
        """
        with self._lock:
            fut = self._futures.get(key)
            if fut is not None:
                return fut
            fut = asyncio.run_coroutine_threadsafe(self._run(key, group, factory, gate), self._loop)
            self._futures[key] = fut
            return fut

    def has(self, key: str) -> bool:
        with self._lock:
            return key in self._futures

    async def _run(self, key: str, group: str, factory: Factory, gate: Callable[[], str] | None) -> Any:
        while gate is not None:
            g = gate()
            if g == "go":
                break
            if g == "skip":
                raise Skipped(f"not played: the band verdict of {group} was decided before it started")
            await asyncio.sleep(0.02)
        async with self._gate:
            return await factory()

    def result(self, key: str) -> Any:
        """Wait for the rollout ``key``: its Rollout, or the exception it raised."""
        with self._lock:
            fut = self._futures[key]
            self._taken.add(key)
        return fut.result()

    # -- ending ------------------------------------------------------------------------------
    def close(self, discard: Callable[[Any], None] | None = None) -> None:
        """Stop the loop; rollouts nobody asked for are passed to ``discard`` (cleanup), not lost silently."""
        with self._lock:
            futures = [f for k, f in self._futures.items() if k not in self._taken]
        for fut in futures:
            if not fut.done():
                fut.cancel()
        # let every cancelled rollout run its own cleanup (sandbox, lease, workspace) to the end
        # before the loop stops: a cancelled future says "done" before its task has unwound
        try:
            asyncio.run_coroutine_threadsafe(self._drain(), self._loop).result(timeout=120)
        except BaseException:  # noqa: BLE001 - best effort; the loop is stopped below either way
            pass
        for fut in futures:
            try:
                ro = fut.result(timeout=0)
            except BaseException:  # noqa: BLE001 - cancelled, skipped or errored: cleaned up itself
                continue
            if discard is not None:
                discard(ro)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()


    async def _drain(self) -> None:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*others, return_exceptions=True)


class Skipped(RuntimeError):
    """A rollout the engine did not start because its task was already decided."""
