"""xdist scheduling: every run item of a task goes to one worker, as one unit.

Through xdist's public ``pytest_xdist_make_scheduler`` hook: a ``LoadScopeScheduling`` whose scope
of a run item is its task, and of every other item the item itself (so solution checks and plain
tests still spread over all workers). A worker that holds a task whole knows which rollouts are
its own: its rollout engine plays them together, and no other worker plays any of them.
"""
from __future__ import annotations

from typing import Any

from .task import is_run_nodeid, task_id


def make_scheduler(config: Any, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class TaskScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "rltask-task:" + task_id(nodeid) if is_run_nodeid(nodeid) else nodeid

    return TaskScheduling(config, log)
