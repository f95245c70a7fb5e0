"""Controller-side aggregation: one result per run item, per-task summaries, the gate.

Fed only with plain data (``report.rltask`` dicts and node ids), so it is the same at -n 0 and
under xdist, and fails closed: runs expected but never reported are errors.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any

from . import stats
from .sequential import Plan
from .task import is_run_nodeid, task_id

_INDEX = re.compile(r"(?:^|[-\[])run-(\d+)(?=[-\]]|$)")


def run_index(nodeid: str, record: dict[str, Any] | None = None) -> int:
    """A run item's run number: from its record, else from its node id's ``run-i`` parameter."""
    if record and isinstance(record.get("index"), int):
        return record["index"]
    m = _INDEX.search(nodeid)
    return int(m.group(1)) if m else 0


@dataclasses.dataclass
class TaskSummary:
    task: str
    band: tuple[float, float]
    min_runs: int
    runs: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    missing: int = 0
    failures: Counter = dataclasses.field(default_factory=Counter)
    error_kinds: Counter = dataclasses.field(default_factory=Counter)
    scores: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    tokens: Counter = dataclasses.field(default_factory=Counter)
    seconds: float = 0.0
    planned: int = 0  # N: the task's run items as collected (before any -k / --lf / --deselect)
    skipped: int = 0  # runs not played because the verdict was already decided (--rl-early-stop)
    regraded: int = 0  # runs re-graded from an earlier transcript (--rl-resume)
    decided_after: int | None = None  # the run (in run order) after which the verdict was settled
    confidence: float | None = None  # the sequential test's level; None: the fixed N-run rule
    decided: str | None = None  # the verdict the collector settled (partial, sequential, early stop)
    outcomes: list[str] = dataclasses.field(default_factory=list)  # in run order

    @property
    def pass_rate(self) -> float | None:
        n = self.passed + self.failed
        return self.passed / n if n else None

    @property
    def ci95(self) -> tuple[float, float]:
        return stats.wilson(self.passed, self.passed + self.failed)

    @property
    def verdict(self) -> str:
        if self.decided is not None:
            return self.decided
        return stats.verdict(self.passed, self.failed, self.band, self.min_runs)

    @property
    def confirmed_in_band(self) -> bool:
        """In band beyond doubt: the sequential test said so, or (fixed rule) the whole 95 % interval is."""
        if self.verdict != "in_band":
            return False
        if self.confidence is not None:
            return True
        lo, hi = self.ci95
        return self.band[0] <= lo and hi <= self.band[1]

    def as_json(self) -> dict[str, Any]:
        rate = self.pass_rate
        lo, hi = self.ci95
        return {
            "runs": self.runs,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "missing": self.missing,
            "pass_rate": None if rate is None else round(rate, 4),
            "ci95": [round(lo, 3), round(hi, 3)],
            "verdict": self.verdict,
            "band": list(self.band),
            "min_runs": self.min_runs,
            "failures": dict(sorted(self.failures.items())),
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "scores": {k: round(sum(v) / len(v), 4) for k, v in sorted(self.scores.items()) if v},
            "tokens": dict(sorted(self.tokens.items())),
            "seconds": round(self.seconds, 2),
            "planned": self.planned,
            "played": self.runs - self.skipped - self.missing,
            "skipped": self.skipped,
            "regraded": self.regraded,
            "rule": "fixed" if self.confidence is None else "sprt",
            "confidence": self.confidence,
            "decided_after": self.decided_after,
            "confirmed_in_band": self.confirmed_in_band,
            "pass_at_k": stats.pass_at_k(self.passed, self.passed + self.failed),
        }


class Collector:
    """Receives reports (as plain data) on the controller and decides the session's verdict."""

    def __init__(self, band: tuple[float, float], min_runs: int, confidence: float | None = None) -> None:
        self.band = band
        self.min_runs = min_runs
        self.confidence = confidence
        self.marker_skipped: set[str] = set()  # run items skipped by a marker or a fixture, not by us
        self.expected: set[str] = set()  # run node ids that were selected
        self.results: dict[str, dict[str, Any]] = {}  # run node id -> final rltask record
        self.other_failures: set[str] = set()  # failed non-run items (solution checks, plain tests)
        self.judged: dict[str, dict[str, Any]] = {}  # node id -> which grader parts ran (judge-backed tasks)
        self.stopped: str | None = None  # why the session stopped before every run was played, if it did

    # -- feeding -----------------------------------------------------------------------------
    def expect(self, nodeids: list[str]) -> None:
        self.expected.update(n for n in nodeids if is_run_nodeid(n))

    def add(self, nodeid: str, when: str, outcome: str, record: dict[str, Any] | None, longrepr: str = "") -> None:
        """One pytest report. ``record`` is the report's ``rltask`` dict, if it had one."""
        if record is not None and record.get("parts"):
            j = record.get("judge") or {}
            self.judged[nodeid] = {
                "kind": record.get("kind"), **record["parts"],
                **{k: j[k] for k in ("backend", "model", "reason", "verdicts") if j.get(k)},
            }
        if not is_run_nodeid(nodeid):
            if outcome == "failed":
                self.other_failures.add(nodeid)
            return
        if record is not None and int(record.get("attempt") or 1) > 1:
            return  # a rerun (pytest-rerunfailures): only a rollout's first attempt counts
        if when == "setup" and outcome == "skipped":
            if record is not None and record.get("skipped") == "early_stop":
                self.results[nodeid] = record
                return
            self.expected.discard(nodeid)  # skipped by a marker: not a run that went missing
            self.marker_skipped.add(nodeid)
            return
        prev = self.results.get(nodeid)
        if record is None:
            if outcome != "failed":
                return
            # no data from our hooks: a crashed worker, or a failure outside our reach
            record = {
                "task": task_id(nodeid), "outcome": "error",
                "category": "worker_crashed" if when not in ("setup", "call", "teardown") else "harness",
                "message": longrepr[-500:],
            }
        if prev is not None and prev["outcome"] == "error":
            return  # an error is final for this run
        if prev is not None and when == "teardown" and record["outcome"] != "error":
            return
        self.results[nodeid] = record

    # -- deciding ----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True when live/replayed runs were selected: only then does the band gate apply."""
        return bool(self.expected or self.results)

    def summaries(self) -> dict[str, TaskSummary]:
        out: dict[str, TaskSummary] = {}
        order: dict[str, dict[int, str]] = {}  # task -> run index -> outcome

        def get(tid: str, rec: dict[str, Any] | None) -> TaskSummary:
            if tid not in out:
                band = tuple(rec["band"]) if rec and rec.get("band") else self.band
                min_runs = rec.get("min_runs", self.min_runs) if rec else self.min_runs
                out[tid] = TaskSummary(tid, band, min_runs, confidence=self.confidence)  # type: ignore[arg-type]
                order[tid] = {}
            elif rec and rec.get("band"):
                out[tid].band = tuple(rec["band"])  # type: ignore[assignment]
                out[tid].min_runs = rec.get("min_runs", out[tid].min_runs)
            if rec and rec.get("planned"):
                out[tid].planned = max(out[tid].planned, int(rec["planned"]))
            return out[tid]

        for nodeid in sorted(self.expected | set(self.results), key=lambda n: (task_id(n), run_index(n), n)):
            rec = self.results.get(nodeid)
            s = get(task_id(nodeid), rec)
            idx = run_index(nodeid, rec)
            s.runs += 1
            if rec is None:
                s.missing += 1
                s.errors += 1
                # a run never played (the session stopped: -x, --rl-max-cost, an interrupt) is not a
                # harness failure, but it still fails the gate; a lost result (no stop) is one
                s.error_kinds["not_played" if self.stopped else "missing_result"] += 1
                order[s.task][idx] = "error"
                continue
            if rec.get("skipped") == "early_stop":
                s.skipped += 1
                order[s.task][idx] = "skipped"
                continue
            if rec.get("regraded_from"):
                s.regraded += 1
            order[s.task][idx] = rec["outcome"] if rec["outcome"] in ("passed", "failed") else "error"
            if rec["outcome"] == "passed":
                s.passed += 1
            elif rec["outcome"] == "failed":
                s.failed += 1
                s.failures[rec.get("category") or "unknown"] += 1
            else:
                s.errors += 1
                s.error_kinds[rec.get("category") or "error"] += 1
            for k, v in (rec.get("scores") or {}).items():
                s.scores.setdefault(k, []).append(float(v))
            for k, v in (rec.get("tokens") or {}).items():
                s.tokens[k] += int(v)
            s.seconds += float(rec.get("seconds") or 0.0)
        for tid, s in out.items():
            self._decide(s, order[tid])
        return out

    def _decide(self, s: TaskSummary, by_index: dict[int, str]) -> None:
        """The task's verdict from its outcomes in run order; a selection missing runs is partial."""
        s.planned = s.planned or max(by_index, default=0)
        s.outcomes = [by_index.get(i, "unselected") for i in range(1, s.planned + 1)]
        if set(by_index) != set(range(1, s.planned + 1)):
            s.decided = "partial"  # -k, --lf, --deselect or a skip left runs of this task out
            return
        plan = Plan(s.band, s.planned, s.min_runs, self.confidence)
        d = plan.decide(s.outcomes)
        s.decided_after = d.at if d.verdict is not None else None
        if self.confidence is not None:
            s.decided = d.verdict or "inconclusive"
        elif s.skipped:
            s.decided = d.verdict or plan.final(s.outcomes).verdict

    def judge_summary(self) -> dict[str, Any] | None:
        """Per item, which parts of judge-backed graders ran; None when no grader used the judge."""
        if not self.judged:
            return None
        counts = Counter(v["judge"] for v in self.judged.values())
        reasons = sorted({v["reason"] for v in self.judged.values() if v.get("reason")})
        return {
            "counts": dict(sorted(counts.items())),
            "reasons": reasons,
            "items": {k: self.judged[k] for k in sorted(self.judged)},
        }

    def verdict(self) -> str:
        """'pass' iff every task is in band (with all its runs selected), no run errored and no other
        item failed."""
        sums = self.summaries()
        ok = (
            all(s.verdict == "in_band" and s.errors == 0 for s in sums.values())
            and not self.other_failures
        )
        return "pass" if ok else "fail"
