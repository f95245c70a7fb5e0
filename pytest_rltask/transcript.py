"""Transcripts (JSONL, one event per line) and trajectories (the contracts' JSON).

A transcript records everything a run did; ``load_trajectory`` reads either format, so a recorded
run can be replayed and re-graded after a grader changes.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Iterator


class TrajectoryError(ValueError):
    """A trajectory or transcript file that cannot be played."""


@dataclasses.dataclass
class Trajectory:
    steps: list[dict[str, Any]]
    expect: str | None = None  # "pass" | "fail" | None (recorded transcripts)
    category: str | None = None
    note: str = ""
    source: str = ""
    seed: int | None = None
    instance: int | None = None  # the secret instance it was played on (recorded transcripts)
    decided_by: str | None = None  # "judge": only the LLM judge can reject it (see the judge fixture)


class Transcript:
    """Append-only JSONL log of one run. Writes through, so a crashed worker leaves a record."""

    def __init__(self, path: Path | None, **meta: Any) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._t0 = time.monotonic()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "w", encoding="utf-8", errors="backslashreplace")
        self.event("meta", **meta)

    def event(self, type: str, **data: Any) -> None:
        ev = {"type": type, "t": round(time.monotonic() - self._t0, 4), **data}
        self.events.append(ev)
        if self._fh is not None:
            self._fh.write(json.dumps(ev, default=str, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def tail(self, n: int = 8, width: int = 600) -> str:
        """The last tool calls and the end, as text for a failed run's pytest report."""
        lines = []
        for ev in self.events[-n:]:
            if ev["type"] == "tool_call":
                inp = json.dumps(ev.get("input"), ensure_ascii=False)
                res = str(ev.get("result", ""))
                lines.append(f"[{ev['t']:.1f}s] {ev['tool']} {_clip(inp, width)}")
                lines.append("    -> " + _clip(res, width).replace("\n", "\n       "))
            elif ev["type"] == "assistant_text":
                lines.append(f"[{ev['t']:.1f}s] model: {_clip(ev.get('text', ''), width)}")
            elif ev["type"] in ("end", "outcome", "error"):
                rest = {k: v for k, v in ev.items() if k not in ("type", "t")}
                lines.append(f"[{ev['t']:.1f}s] {ev['type']}: {json.dumps(rest, default=str)}")
        if self.path is not None:
            lines.append(f"(full transcript: {self.path})")
        return "\n".join(lines)


def read_events(path: Path | str) -> Iterator[dict[str, Any]]:
    """A transcript's events, skipping blank and torn lines (a run killed mid-write); OSError if unreadable."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict):
                yield ev


def meta_and_outcome(path: Path | str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A transcript's first meta event and its last outcome event (None: the run never finished)."""
    meta: dict[str, Any] = {}
    end: dict[str, Any] | None = None
    for ev in read_events(path):
        if ev.get("type") == "meta" and not meta:
            meta = ev
        elif ev.get("type") == "outcome":
            end = ev
    return meta, end


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n] + f" ...[{len(s) - n} more chars]"


def _steps_from_events(events: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"tool": ev["tool"], "input": ev.get("input")}
        for ev in events
        if ev.get("type") == "tool_call"
    ]


def load_trajectory(path: Path) -> Trajectory:
    """Read a trajectory (.json) or a recorded transcript (.jsonl)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TrajectoryError(f"cannot read {path}: {e}") from e
    if path.suffix == ".jsonl":
        try:
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise TrajectoryError(f"{path}: not JSONL: {e}") from e
        meta = next((e for e in events if e.get("type") == "meta"), {})
        return Trajectory(
            steps=_steps_from_events(iter(events)),
            note=f"recorded transcript of {meta.get('nodeid', '?')}",
            source=str(path),
            seed=meta.get("seed"),
            instance=meta.get("instance"),
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TrajectoryError(f"{path}: not JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise TrajectoryError(f"{path}: a trajectory is an object with a 'steps' list")
    expect = data.get("expect")
    if expect not in (None, "pass", "fail"):
        raise TrajectoryError(f"{path}: 'expect' must be \"pass\" or \"fail\", got {expect!r}")
    decided_by = data.get("decided_by")
    if decided_by not in (None, "deterministic", "judge"):
        raise TrajectoryError(f"{path}: 'decided_by' must be \"deterministic\" or \"judge\", got {decided_by!r}")
    for i, st in enumerate(data["steps"]):
        if not isinstance(st, dict) or not isinstance(st.get("tool"), str):
            raise TrajectoryError(f"{path}: step {i} needs a 'tool' name")
    return Trajectory(
        steps=data["steps"],
        expect=expect,
        category=data.get("category"),
        note=data.get("note", ""),
        source=str(path),
        seed=data.get("seed"),
        instance=data.get("instance"),
        decided_by=decided_by,
    )


def trajectory_files(path: Path) -> list[Path]:
    """A file, or a directory's *.json / *.jsonl sorted by name."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
    return []


def write_trajectories(folder: Path, trajectories: dict[str, dict[str, Any]]) -> None:
    """Replace a task's ``solutions/*.json`` with these trajectories (name -> trajectory dict).

    Shared by every task's ``solutions/_make.py`` so the shipped files have one format.
    """
    folder = Path(folder)
    for old in folder.glob("*.json"):
        old.unlink()
    for name, data in trajectories.items():
        (folder / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(trajectories)} trajectories to {folder}")
