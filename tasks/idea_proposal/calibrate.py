"""Calibrate the idea_proposal pass threshold from a live run's transcripts.

    pytest tasks/idea_proposal -n 10 --rl-runs 20 --rl-transcripts .rltask   # a live measurement
    python -m tasks.idea_proposal.calibrate --transcripts .rltask [--target 0.25] [--write [PATH]]

The write-up fixed the threshold at 7/10; its agent averaged 5.6 and passed 0% of the time, which
says nothing about which proposals are better. Here the threshold is chosen from the judge's mean
scores of real runs so that the pass rate lands at ``--target`` (default the middle of the
10-40% band): runs that failed the deterministic part count as failures at any threshold, and
errored runs are left out. With ``--write`` the result replaces calibration.json (with the scores
it came from), which the grader reads.
"""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from pytest_rltask.stats import wilson

HERE = Path(__file__).resolve().parent
CALIBRATION = HERE / "calibration.json"
TASK_MARK = "test_idea_proposal"


def run_outcomes(folder: Path) -> list[tuple[str, str, float | None]]:
    """(run file, outcome, judge mean or None) for every idea_proposal run transcript under folder."""
    out = []
    for f in sorted(Path(folder).rglob("run-*.jsonl")):
        events = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        meta = next((e for e in events if e.get("type") == "meta"), {})
        if TASK_MARK not in str(meta.get("task", "")):
            continue
        end = next((e for e in reversed(events) if e.get("type") == "outcome"), None)
        if end is None:
            continue
        mean = (end.get("scores") or {}).get("judge_mean")
        out.append((str(f), end["outcome"], mean))
    return out


def choose(means: list[float | None], target: float) -> tuple[float, float]:
    """(threshold, pass rate it gives): the candidate whose rate is nearest the target; ties -> higher."""
    scored = sorted({round(m, 4) for m in means if m is not None})
    if not scored:
        raise SystemExit("no run reached the judge: nothing to calibrate on")
    n = len(means)
    best = None
    for t in scored + [round(scored[-1] + 0.01, 4)]:
        rate = sum(1 for m in means if m is not None and m >= t - 1e-9) / n
        key = (abs(rate - target), -t)
        if best is None or key < best[0]:
            best = (key, t, rate)
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transcripts", type=Path, default=Path(".rltask"))
    ap.add_argument("--target", type=float, default=0.25, help="pass rate to aim for (default 0.25)")
    ap.add_argument("--write", nargs="?", type=Path, const=CALIBRATION, default=None, metavar="PATH",
                    help="write the result (default path: this task's calibration.json, which the grader reads)")
    a = ap.parse_args(argv)
    if not 0 < a.target < 1:
        ap.error("--target is a fraction between 0 and 1")
    runs = [r for r in run_outcomes(a.transcripts) if r[1] in ("passed", "failed")]
    if not runs:
        raise SystemExit(f"no completed idea_proposal runs under {a.transcripts}")
    means = [m for _, _, m in runs]
    threshold, rate = choose(means, a.target)
    judged = sorted(round(m, 3) for m in means if m is not None)
    result = {
        "threshold": threshold,
        "measured": True,
        "target_pass_rate": a.target,
        "achieved_pass_rate": round(rate, 4),
        "runs": len(runs),
        "runs_judged": len(judged),
        "judge_means": judged,
        "source": str(a.transcripts),
        "date": datetime.date.today().isoformat(),
        "note": "chosen by calibrate.py so the pass rate over these runs is nearest the target; fitted on these "
                "runs, so confirm it on a fresh live measurement",
    }
    print(f"{len(runs)} completed runs, {len(judged)} reached the judge; mean scores: {judged}")
    lo, hi = wilson(round(rate * len(runs)), len(runs))
    print(f"threshold {threshold:.4f} -> pass rate {rate:.0%} on these runs, 95% interval {lo:.0%}-{hi:.0%} "
          f"(target {a.target:.0%})")
    print("fitted on these runs: confirm it with a fresh live measurement (the band gate) before relying on it")
    if len(runs) < 20:
        print(f"warning: only {len(runs)} runs; 20 or more give a threshold worth keeping")
    if a.write:
        a.write.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {a.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
