"""The replay backend: plays a trajectory's tool calls, one per model turn, with no model at all.

Used for the shipped reference solutions (``pytest -m offline``), for ``--rl-replay`` and for
re-grading recorded transcripts. Each step counts as a turn against the step budget; the rollout
ends at the first call that ends it (submit_answer), and with ``no_submission`` if the steps run
out without one.
"""
from __future__ import annotations

from typing import Any

from ..episode import Episode
from ..transcript import Trajectory
from .base import Agent, AgentError


class ReplayAgent(Agent):
    name = "replay"

    def __init__(self, trajectory: Trajectory | None = None, **_ignored: Any) -> None:
        self.trajectory = trajectory

    async def run(self, episode: Episode) -> None:
        traj = self.trajectory
        if traj is None:
            raise AgentError(
                "the replay backend needs a trajectory: pass --rl-replay PATH, or ship "
                "solutions/*.json next to the task"
            )
        episode.transcript.event("replay", source=traj.source, steps=len(traj.steps), note=traj.note)
        for i, step in enumerate(traj.steps):
            if not episode.begin_turn():
                break
            inp = step.get("input", {})
            await episode.call(step["tool"], {} if inp is None else inp, f"replay-{i}")
            if episode.done:
                break
        if not episode.done:
            episode.finish("no_submission")
