"""Which recorded trajectory a run item re-grades: by its recorded run id, never by file order.

A recorded transcript (``.jsonl``) carries its task, run id (``case``), seed and secret instance in
its ``meta`` event; a re-grade plays the transcript of the same task and run id, on that instance
and seed, so the workspace and the hidden data are the ones the agent saw. Plain trajectory files
(shipped solutions, hand-written ``.json``) keep the contract's mapping: run *i* plays file *i* mod
count. ``--rl-resume DIR`` re-grades the runs DIR recorded as passed or failed and plays the rest.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from .task import Case
from .transcript import Trajectory, TrajectoryError, load_trajectory, meta_and_outcome, trajectory_files


def slug(text: str) -> str:
    """The transcript folder name of a task (the same as plugin._slug)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


class NoRecording(LookupError):
    """A directory of recorded transcripts holds none for this run."""


@lru_cache(maxsize=None)
def _meta(path: Path) -> tuple[dict[str, Any], str | None]:
    """A transcript's meta event and the outcome it recorded (None: the run never finished)."""
    try:
        meta, end = meta_and_outcome(path)
    except OSError as e:
        raise TrajectoryError(f"cannot read {path}: {e}") from e
    return meta, (end or {}).get("outcome")


def _folder(root: Path, task: str) -> Path:
    """A task's folder inside a --rl-transcripts tree, or the directory itself."""
    sub = root / slug(task)
    return sub if sub.is_dir() else root


def _recorded(files: list[Path], task: str, case: Case) -> Path | None:
    for f in files:
        if f.suffix != ".jsonl":
            continue
        meta, _ = _meta(f)
        if meta.get("case") == case.id and meta.get("task", task) == task:
            return f
    return None


def pick(case: Case, task: str, replay: Path | None, solutions: list[Path]) -> Trajectory:
    """The trajectory a replayed run item plays (see the module docstring)."""
    if case.kind == "solution":
        return load_trajectory(case.path)
    if replay is not None and replay.is_file():
        return load_trajectory(replay)  # one file named on purpose: every run plays it
    files = trajectory_files(_folder(replay, task)) if replay is not None else solutions
    if not files:
        where = replay if replay is not None else "the task's solutions/ folder"
        raise NoRecording(f"--rl-agent replay: no trajectory files (*.json, *.jsonl) in {where}")
    hit = _recorded(files, task, case)
    if hit is not None:
        return load_trajectory(hit)
    plain = [f for f in files if f.suffix != ".jsonl"]
    if not plain:
        raise NoRecording(f"--rl-replay {replay}: no recorded transcript of {case.id} of {task}")
    return load_trajectory(plain[(case.index - 1) % len(plain)])


def resumable(resume: Path, task: str, case: Case) -> Trajectory | None:
    """The earlier transcript of this run if it ended passed or failed; None: play the run again."""
    if case.kind != "run":
        return None
    folder = _folder(resume, task)
    path = folder / f"{case.id}.jsonl"
    if not path.is_file():
        return None
    meta, outcome = _meta(path)
    if meta.get("task", task) != task or meta.get("case", case.id) != case.id:
        return None
    if outcome not in ("passed", "failed"):
        return None  # errored, or the process died before the grader ran: play it again
    return load_trajectory(path)


def is_recorded(traj: Trajectory) -> bool:
    """A recorded transcript (it carries its own run id and seed)."""
    return str(traj.source).endswith(".jsonl")
