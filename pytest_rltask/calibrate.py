"""Fit a task's score threshold from recorded scores so its pass rate lands at the band's centre.

    python -m pytest_rltask calibrate --transcripts .rltask --score judge_mean [--task idea_proposal]
        [--band 0.10,0.40 | --target 0.25] [--lower-is-better] [--bootstrap 1000] [--write PATH]

Reads every recorded run (``run-*.jsonl``) under ``--transcripts``: the score a grader recorded with
``rollout.score(NAME, value)`` in the run's ``outcome`` event. Completed runs without the score
(they failed before the grader scored them) fail at any threshold; errored runs are left out. The
threshold is the cut whose pass rate over these runs is nearest the target (ties: the stricter).
Stability: the fit is repeated on bootstrap resamples of the runs (seeded), giving the spread of
the threshold and the pass rate the chosen threshold gives on resampled runs, and the share of
resamples on which that rate stays inside the band. A threshold fitted on few runs is fragile: the
command says so, and a fresh measurement through the band gate is the real check.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any, Sequence

from .settings import parse_band
from .transcript import meta_and_outcome
from .stats import wilson


def recorded_scores(folder: Path, score: str, task: str | None = None) -> list[float | None]:
    """One entry per completed run under ``folder``: its recorded score, or None (never scored)."""
    out: list[float | None] = []
    for f in sorted(Path(folder).rglob("run-*.jsonl")):
        meta, end = meta_and_outcome(f)
        if task is not None and task not in str(meta.get("task", "")):
            continue
        if end is None or end.get("outcome") not in ("passed", "failed"):
            continue
        v = (end.get("scores") or {}).get(score)
        out.append(float(v) if isinstance(v, (int, float)) else None)
    return out


def rate_at(scores: Sequence[float | None], threshold: float, higher: bool = True) -> float:
    n = len(scores)
    if not n:
        return 0.0
    ok = sum(1 for s in scores if s is not None and (s >= threshold - 1e-12 if higher else s <= threshold + 1e-12))
    return ok / n


def fit(scores: Sequence[float | None], target: float, higher: bool = True) -> tuple[float, float]:
    """(threshold, pass rate it gives): the cut nearest the target; ties go to the stricter cut."""
    seen = sorted({s for s in scores if s is not None})
    if not seen:
        raise ValueError("no run recorded the score: nothing to calibrate on")
    beyond = seen[-1] + 1.0 if higher else seen[0] - 1.0  # a cut that passes nobody
    best: tuple[tuple[float, float], float, float] | None = None
    for t in [*seen, beyond]:
        r = rate_at(scores, t, higher)
        key = (round(abs(r - target), 12), -t if higher else t)
        if best is None or key < best[0]:
            best = (key, t, r)
    assert best is not None
    return best[1], best[2]


def _quantile(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    i = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[i]


def stability(scores: Sequence[float | None], target: float, band: tuple[float, float], threshold: float,
              higher: bool = True, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Bootstrap spread of the fitted threshold and of the chosen threshold's pass rate."""
    rng = random.Random(seed)
    n = len(scores)
    fitted: list[float] = []
    rates: list[float] = []
    for _ in range(rounds):
        sample = [scores[rng.randrange(n)] for _ in range(n)]
        rates.append(rate_at(sample, threshold, higher))
        try:
            fitted.append(fit(sample, target, higher)[0])
        except ValueError:
            continue
    lo, hi = band
    return {
        "bootstrap_rounds": rounds,
        "seed": seed,
        "threshold_90": [round(_quantile(fitted, 0.05), 4), round(_quantile(fitted, 0.95), 4)] if fitted else None,
        "pass_rate_90": [round(_quantile(rates, 0.05), 4), round(_quantile(rates, 0.95), 4)],
        "share_in_band": round(sum(lo <= r <= hi for r in rates) / len(rates), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pytest_rltask calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--transcripts", type=Path, default=Path(".rltask"), help="recorded runs (default .rltask)")
    ap.add_argument("--score", required=True, help="the score name the grader records with rollout.score")
    ap.add_argument("--task", default=None, help="only runs whose task id contains this")
    ap.add_argument("--band", default="0.10,0.40", help="pass-rate band LOW,HIGH (default 0.10,0.40)")
    ap.add_argument("--target", type=float, default=None, help="pass rate to aim for (default: the band's centre)")
    ap.add_argument("--lower-is-better", action="store_true", help="a run passes at or below the threshold")
    ap.add_argument("--bootstrap", type=int, default=1000, help="resamples for the stability figures (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    ap.add_argument("--write", type=Path, default=None, metavar="PATH", help="write the result as JSON")
    a = ap.parse_args(argv)
    try:
        band = parse_band(a.band, "--band")
    except Exception as e:  # pytest.UsageError: say it the argparse way
        ap.error(str(e))
    target = a.target if a.target is not None else (band[0] + band[1]) / 2
    if not 0 < target < 1:
        ap.error("--target is a fraction between 0 and 1")
    scores = recorded_scores(a.transcripts, a.score, a.task)
    if not scores:
        print(f"no completed runs under {a.transcripts}" + (f" for task {a.task!r}" if a.task else ""))
        return 1
    higher = not a.lower_is_better
    try:
        threshold, rate = fit(scores, target, higher)
    except ValueError as e:
        print(str(e))
        return 1
    stab = stability(scores, target, band, threshold, higher, a.bootstrap, a.seed)
    lo, hi = wilson(round(rate * len(scores)), len(scores))
    scored = sorted(s for s in scores if s is not None)
    result = {
        "score": a.score, "task": a.task, "threshold": threshold, "direction": "higher" if higher else "lower",
        "target_pass_rate": round(target, 4), "achieved_pass_rate": round(rate, 4),
        "ci95": [round(lo, 3), round(hi, 3)], "band": list(band),
        "runs": len(scores), "runs_scored": len(scored), "scores": [round(s, 4) for s in scored],
        "stability": stab, "source": str(a.transcripts),
    }
    print(f"{len(scores)} completed runs, {len(scored)} recorded {a.score!r}")
    print(f"threshold {threshold:.4f} ({'>=' if higher else '<='}) -> pass rate {rate:.0%} on these runs "
          f"(95% CI {lo:.0%}-{hi:.0%}; target {target:.0%})")
    if stab["threshold_90"]:
        print(f"stability over {stab['bootstrap_rounds']} resamples: fitted threshold 90% range "
              f"{stab['threshold_90'][0]:.4f}-{stab['threshold_90'][1]:.4f}; this threshold's pass rate 90% range "
              f"{stab['pass_rate_90'][0]:.0%}-{stab['pass_rate_90'][1]:.0%}, inside the band in "
              f"{stab['share_in_band']:.0%} of resamples")
    if len(scores) < 20:
        print(f"warning: only {len(scores)} runs; 20 or more give a threshold worth keeping")
    print("fitted on these runs: confirm it with a fresh measurement through the band gate")
    if a.write:
        a.write.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {a.write}")
    return 0
