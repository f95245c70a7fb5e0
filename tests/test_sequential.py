"""The verdict rules on their own: exact error rates, a simulation, early stop, calibration."""
from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rltask import stats
from pytest_rltask.calibrate import fit, recorded_scores, stability
from pytest_rltask.schedule import EarlyStop, group_of
from pytest_rltask.sequential import Plan, operating, right_verdicts, table

BAND = (0.10, 0.40)
ROOT = Path(__file__).resolve().parents[1]
DONE_WHEN = {0.02: "too_hard", 0.10: "in_band", 0.25: "in_band", 0.40: "in_band", 0.60: "too_easy"}


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_sequential_test_meets_its_stated_error_rate(level: float) -> None:
    plan = Plan(BAND, 400, 10, level)
    for rate, right in DONE_WHEN.items():
        o = operating(plan, rate)
        wrong = sum(o[v] for v in ("too_hard", "in_band", "too_easy") if v != right)
        assert wrong <= 1 - level, (rate, o)
        assert o[right] >= 0.85, (rate, o)  # and it decides: few inconclusive at 400 runs
        assert o["expected_runs"] < 200
    for rate in [i / 20 for i in range(21)]:  # every rate: never wrong beyond the stated level
        o = operating(plan, rate)
        wrong = sum(o[v] for v in ("too_hard", "in_band", "too_easy") if v not in right_verdicts(plan, rate))
        assert wrong <= 1 - level + 1e-9, (rate, o)


def test_simulation_agrees_with_the_exact_figures() -> None:
    """Seeded Monte Carlo of Plan.decide, the code the plugin runs, against the exact walk."""
    plan = Plan(BAND, 400, 10, 0.9)
    rng = random.Random(11)
    for rate in DONE_WHEN:
        exact = operating(plan, rate)
        sims = 1500
        counts = {"too_hard": 0, "in_band": 0, "too_easy": 0, "inconclusive": 0}
        runs = 0
        for _ in range(sims):
            seq = ["passed" if rng.random() < rate else "failed" for _ in range(plan.runs)]
            d = plan.final(seq)
            counts[d.verdict] += 1
            runs += d.at
        for v, c in counts.items():
            se = max((exact[v] * (1 - exact[v]) / sims) ** 0.5, 1 / sims)
            assert abs(c / sims - exact[v]) < 4 * se + 0.005, (rate, v, c / sims, exact[v])
        assert abs(runs / sims - exact["expected_runs"]) < 0.1 * exact["expected_runs"]


def test_docs_tables_are_the_measured_ones() -> None:
    doc = (ROOT / "docs" / "verdicts.md").read_text()
    for args in ("--runs 10", "--runs 40", "--runs 400 --confidence 0.9", "--runs 400 --confidence 0.8",
                 "--runs 40 --confidence 0.9"):
        kw = dict(re.findall(r"--(\w+) (\S+)", args))
        plan = Plan(BAND, int(kw["runs"]), 10, float(kw["confidence"]) if "confidence" in kw else None)
        rows = table(plan, [0, 0.02, 0.05, 0.10, 0.25, 0.40, 0.50, 0.60, 0.80, 1])
        assert f"`python -m pytest_rltask table {args}`\n\n" + "\n".join(rows) in doc, args


def test_fixed_rule_early_stop_never_changes_a_verdict() -> None:
    plan = Plan(BAND, 10, 10)
    for seq in itertools.product(("passed", "failed"), repeat=10):
        d = plan.decide(seq)
        full = stats.verdict(seq.count("passed"), seq.count("failed"), BAND, 10)
        assert d.verdict is not None  # all ten known: always decided
        assert d.verdict == full
        # and the prefix it stopped at already forces it
        assert plan.decide(seq[: d.at]).verdict == full


def test_all_passing_40_runs_are_too_easy_after_17() -> None:
    assert Plan(BAND, 40, 10).decide(["passed"] * 40).at == 17
    assert Plan(BAND, 40, 10).decide(["passed"] * 16).verdict is None
    assert Plan(BAND, 10, 10).decide(["passed"] * 5) .verdict == "too_easy"
    assert Plan(BAND, 40, 10, 0.9).decide(["passed"] * 40).at == 9


def test_early_stop_decides_only_on_a_known_prefix() -> None:
    es, plan = EarlyStop(), Plan(BAND, 10, 10)
    for i in (1, 2, 3, 5, 6):
        es.record("t", i, "passed")
    assert es.decided("t", 7, plan) is None  # run 4 unknown here: play
    es.record("t", 4, "passed")
    assert es.decided("t", 6, plan) == ("too_easy", 5)
    es.record("t", 4, "failed")  # a later attempt of run 4 does not replace the first
    assert es.outcomes["t"][4] == "passed"
    assert group_of("a.py::t[run-3]") == group_of("a.py::t[run-9]") == "a.py::t"
    assert group_of("a.py::t[solution-x]") == "a.py::t[solution-x]"


def test_pass_at_k() -> None:
    assert stats.pass_at_k(0, 10) == {"1": 0.0, "5": 0.0, "10": 0.0}
    assert stats.pass_at_k(10, 10) == {"1": 1.0, "5": 1.0, "10": 1.0}
    assert stats.pass_at_k(3, 4) == {"1": 0.75}


def _transcripts(folder: Path, scores: list[float | None], task: str = "t.py::test_t") -> None:
    d = folder / "t"
    d.mkdir(parents=True)
    for i, s in enumerate(scores, 1):
        meta = {"type": "meta", "task": task, "case": f"run-{i}"}
        end = {"type": "outcome", "outcome": "failed" if s is None or s < 5 else "passed",
               "scores": {} if s is None else {"points": s}}
        (d / f"run-{i}.jsonl").write_text(json.dumps(meta) + "\n" + json.dumps(end) + "\n")
    (d / "run-99.jsonl").write_text(json.dumps({"type": "meta", "task": task}) + "\n")  # never finished


def test_calibration_fits_the_band_centre_and_reports_stability(tmp_path: Path) -> None:
    values = [round(0.5 * i, 1) for i in range(1, 19)] + [None, None]  # 20 runs, 2 never scored
    _transcripts(tmp_path, values)
    scores = recorded_scores(tmp_path, "points")
    assert len(scores) == 20 and scores.count(None) == 2
    threshold, rate = fit(scores, 0.25)
    assert rate == 0.25 and threshold == 7.0  # 7.0, 7.5, 8.0, 8.5, 9.0 pass: 5 of 20
    assert fit(scores, 0.25, higher=False) == (2.5, 0.25)
    stab = stability(scores, 0.25, BAND, threshold, rounds=300, seed=1)
    lo, hi = stab["pass_rate_90"]
    assert lo < 0.25 < hi and 0.5 < stab["share_in_band"] < 1.0
    assert stab == stability(scores, 0.25, BAND, threshold, rounds=300, seed=1)  # seeded: reproducible
    out = tmp_path / "cal.json"
    res = subprocess.run([sys.executable, "-m", "pytest_rltask", "calibrate", "--transcripts", str(tmp_path),
                          "--score", "points", "--bootstrap", "200", "--write", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert (data["threshold"], data["achieved_pass_rate"], data["runs"]) == (7.0, 0.25, 20)
    assert "inside the band in" in res.stdout
    bad = subprocess.run([sys.executable, "-m", "pytest_rltask", "calibrate", "--score", "points",
                          "--band", "10,40"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "fractions" in bad.stderr
