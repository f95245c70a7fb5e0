"""Rendering: the terminal table and the JSON report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .collect import Collector, TaskSummary


def header(collector: Collector, agent: str, model: str | None, isolation: str) -> dict[str, Any]:
    return {
        "band": list(collector.band),
        "agent": agent,
        "model": model,
        "isolation": isolation,
    }


def as_json(collector: Collector, head: dict[str, Any]) -> dict[str, Any]:
    sums = collector.summaries()
    return {
        **head,
        "verdict": collector.verdict(),
        "tasks": {tid: s.as_json() for tid, s in sorted(sums.items())},
        "other_failures": sorted(collector.other_failures),
        **({"judge": j} if (j := collector.judge_summary()) else {}),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _rate(s: TaskSummary) -> str:
    r = s.pass_rate
    if r is None:
        return "   -"
    lo, hi = s.ci95
    return f"{r:4.0%} [{lo:.2f}-{hi:.2f}]"


def table(collector: Collector, head: dict[str, Any], costs: dict[str, float | None] | None = None) -> list[str]:
    sums = collector.summaries()
    rule = "fixed N-run gate" if head.get("confidence") is None else f"sequential test at {head['confidence']}"
    lines = [
        f"agent: {head['agent']}  model: {head['model'] or '-'}  isolation: {head['isolation']}  "
        f"band: {head['band'][0]:.2f}-{head['band'][1]:.2f}  rule: {rule}  "
        f"early stop: {'on' if head.get('early_stop') else 'off'}"
    ]
    rows = [("task", "runs", "played", "pass", "fail", "err", "pass rate [95% CI]", "verdict", "confirmed",
             "failures")]
    for tid, s in sorted(sums.items()):
        fails = ", ".join(f"{k}:{v}" for k, v in s.failures.most_common(4))
        if s.errors:
            errs = ", ".join(f"{k}:{v}" for k, v in s.error_kinds.most_common(3))
            fails = (fails + "; " if fails else "") + f"errors {errs}"
        verdict = s.verdict
        if tuple(s.band) != tuple(collector.band):
            verdict += f" (band {s.band[0]:.2f}-{s.band[1]:.2f})"
        if s.decided_after is not None and s.skipped:
            verdict += f" (decided after {s.decided_after})"
        played = str(s.runs - s.skipped - s.missing)
        rows.append((tid, str(s.runs), played, str(s.passed), str(s.failed), str(s.errors), _rate(s), verdict,
                     "yes" if s.confirmed_in_band else "no", fails))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    if collector.other_failures:
        lines.append(f"{len(collector.other_failures)} other item(s) failed (solution checks or plain tests)")
    skipped = sum(s.skipped for s in sums.values())
    if skipped:
        lines.append(f"{skipped} run(s) not played: their task's verdict was already decided (--rl-early-stop)")
    if collector.stopped:
        unplayed = sum(s.error_kinds.get("not_played", 0) for s in sums.values())
        lines.append(f"{unplayed} run(s) not played: the session stopped ({collector.stopped})")
    if costs:
        lines.append("cost: " + ", ".join(f"{tid.split('::')[-1]} {_usd(c)}" for tid, c in sorted(costs.items()))
                     + f"; total {_usd(total_cost(costs))}")
    from .markdown import next_step

    for tid, s in sorted(sums.items()):
        if s.verdict != "in_band" or s.errors:
            lines.append(f"next step: {tid.split('::')[-1]}: {next_step(s.as_json())}")
    lines.append(f"session verdict: {collector.verdict()}")
    return lines


def _usd(v: float | None) -> str:
    return "unknown (no price for the model: --rl-prices)" if v is None else f"${v:,.4f}"


def total_cost(costs: dict[str, float | None]) -> float | None:
    vals = list(costs.values())
    return None if any(v is None for v in vals) else round(sum(vals), 6)


JUDGE_STATES = {
    "passed": "judge passed it",
    "failed": "judge failed it",
    "not_run": "judge not run (deterministic part only)",
    "not_reached": "decided by the deterministic part before the judge",
    "error": "judge error",
}


def judge_lines(collector: Collector, backend: str, model: str | None) -> list[str]:
    """Which parts of judge-backed graders ran: the terminal's 'rltask judge' section."""
    j = collector.judge_summary()
    if j is None:
        return []
    lines = [f"judge: {backend}  model: {model or '-'}  items graded by judge-backed graders: {len(j['items'])}"]
    for state, n in j["counts"].items():
        lines.append(f"  {n:4d}  {JUDGE_STATES.get(state, state)}")
    for r in j["reasons"]:
        lines.append(f"  why not run: {r}")
    return lines
