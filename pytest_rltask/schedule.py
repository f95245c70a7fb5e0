"""Which run items play, and where: early stop of decided tasks, and xdist grouping by task.

A run is skipped only when the outcomes of every earlier run of its task (in run order) are known
in this process and ``Plan.decide`` settles the verdict on them. So the choice is a function of the
results, never of timing; with each task's run items sent whole and in order to one xdist worker,
the same runs are played at ``-n 0`` and ``-n 2``. When earlier runs are unknown here (they ran on
another worker, or a plugin reordered items), the run is played: more runs, the same verdict.
"""
from __future__ import annotations

from typing import Any

from .sequential import Plan
from .task import is_run_nodeid, task_id


class EarlyStop:
    """One process's view of its runs' outcomes, by task and run number."""

    def __init__(self) -> None:
        self.outcomes: dict[str, dict[int, str]] = {}

    def record(self, task: str, index: int, outcome: str) -> None:
        self.outcomes.setdefault(task, {}).setdefault(index, outcome)  # the first attempt counts

    def decided(self, task: str, index: int, plan: Plan) -> tuple[str, int] | None:
        """(verdict, after run k) when runs 1..index-1 are all known here and settle the verdict."""
        known = self.outcomes.get(task, {})
        prefix = [known.get(i) for i in range(1, index)]
        if not prefix or any(o is None for o in prefix):
            return None
        d = plan.decide([o for o in prefix if o is not None])
        return (d.verdict, d.at) if d.verdict is not None else None


def lookahead(plan: Plan, prefix: list[str]) -> int:
    """How many more runs are certainly played after ``prefix``: no outcomes of fewer can decide.

    The extremes (all passed, all failed) decide soonest, so the first length at which either
    decides is the bound. The rollout engine starts runs up to that far ahead: concurrent, yet
    never a run that early stop would skip.
    """
    for d in range(1, plan.runs - len(prefix) + 1):
        for o in ("passed", "failed"):
            if plan.decide(prefix + [o] * d).verdict is not None:
                return d
    return max(1, plan.runs - len(prefix))


def start_gate(stop: EarlyStop, task: str, index: int, plan: Plan):
    """The engine's gate for run ``index`` of ``task``: go, wait for earlier results, or skip."""
    def gate() -> str:
        if stop.decided(task, index, plan) is not None:
            return "skip"
        known = stop.outcomes.get(task, {})
        k = 0
        while (k + 1) in known:
            k += 1
        prefix = [known[i] for i in range(1, k + 1)]
        return "go" if index <= k + lookahead(plan, prefix) else "wait"

    return gate


def group_of(nodeid: str) -> str:
    """xdist work unit: all run items of one task together; every other item on its own."""
    return task_id(nodeid) if is_run_nodeid(nodeid) else nodeid


def make_scheduler(config: Any, log: Any) -> Any:
    """A LoadScope scheduler whose scope is the task (run items) or the item itself (the rest)."""
    from xdist.scheduler import LoadScopeScheduling

    class TaskScheduling(LoadScopeScheduling):  # type: ignore[misc, valid-type]
        """Sends each task's run items whole, in collection (= run) order, to one worker."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return TaskScheduling(config, log)
