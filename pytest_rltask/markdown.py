"""The Markdown summary (``--rl-markdown``, and ``$GITHUB_STEP_SUMMARY`` when it is set).

The table, each task's verdict with its next step, and the top failure categories, cut to stay
inside GitHub's step-summary cap (1 MiB per step): rows past the cap are counted, never silently lost.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

GITHUB_CAP = 1024 * 1024
MARGIN = 16 * 1024


def next_step(t: dict[str, Any]) -> str:
    """What to do about a task, from its verdict and its most common failure."""
    v = t.get("verdict")
    fails = sorted((t.get("failures") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    done = (t.get("passed", 0) or 0) + (t.get("failed", 0) or 0)
    top = f"{fails[0][0]} {fails[0][1]}/{done}" if fails else ""
    kinds = t.get("error_kinds") or {}
    if kinds.get("not_played"):
        return f"{kinds['not_played']} run(s) not played (the session stopped): run again, or --rl-resume DIR"
    if v == "too_hard":
        return f"too hard: {top}; read those transcripts, then make the task easier or the prompt clearer" if top else "too hard"
    if v == "too_easy":
        return "too easy: harden the task (hidden cases, stricter checks)"
    if v == "not_measured":
        return f"not measured: {t.get('passed', 0) + t.get('failed', 0)} completed runs of {t.get('min_runs')} needed"
    if t.get("errors"):
        listed = ", ".join(f"{k} {n}" for k, n in kinds.items())
        return f"errors ({listed}): fix the harness, API access or grader, then re-run"
    return "in band"


def _cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def render(report: dict[str, Any], cap: int = GITHUB_CAP - MARGIN) -> str:
    tasks = report.get("tasks") or {}
    band = report.get("band") or [0.1, 0.4]
    verdict = report.get("verdict", "?")
    mark = "✅" if verdict == "pass" else "❌"
    lines = [
        f"## rltask: session verdict **{verdict}** {mark}",
        "",
        f"agent `{report.get('agent')}` · model `{report.get('model') or '-'}` · isolation `{report.get('isolation')}` · "
        f"band {band[0]:.0%}–{band[1]:.0%}",
        "",
        "| task | runs | pass | fail | err | pass rate [95% CI] | verdict | top failures | cost | next step |",
        "|---|---:|---:|---:|---:|---|---|---|---:|---|",
    ]
    size = sum(len(x.encode()) + 1 for x in lines)
    shown = 0
    for name in sorted(tasks):
        t = tasks[name]
        rate = t.get("pass_rate")
        lo, hi = t.get("ci95") or (0, 0)
        fails = sorted((t.get("failures") or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        cost = t.get("cost")
        row = "| " + " | ".join(_cell(c) for c in (
            f"`{name}`", t.get("runs", 0), t.get("passed", 0), t.get("failed", 0), t.get("errors", 0),
            "-" if rate is None else f"{rate:.0%} [{lo:.2f}–{hi:.2f}]", t.get("verdict", ""),
            ", ".join(f"{k} {v}" for k, v in fails) or "-", "-" if cost is None else f"${cost:,.4f}",
            next_step(t),
        )) + " |"
        if size + len(row.encode()) + 200 > cap:
            break
        lines.append(row)
        size += len(row.encode()) + 1
        shown += 1
    if shown < len(tasks):
        lines.append(f"\n_{len(tasks) - shown} more task(s) left out to stay within the summary's size cap; "
                     "see the JSON or HTML report._")
    others = report.get("other_failures") or []
    if others:
        lines.append(f"\n{len(others)} other item(s) failed (solution checks or plain tests).")
    if report.get("cost") is not None:
        lines.append(f"\nTotal cost: ${report['cost']:,.4f}")
    return "\n".join(lines) + "\n"


def write(path: Path, report: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")


def append_github_summary(report: dict[str, Any]) -> Path | None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` (GitHub Actions), if it is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(render(report))
    return Path(target)
