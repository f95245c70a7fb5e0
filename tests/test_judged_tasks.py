"""The write-up's two judge-graded tasks, end to end, with a scripted judge behind a local API.

The write-up measured literature review at 100% (8/10 from its judge) and idea proposal at 0%
(mean 5.6 against a fixed 7): both out of band. Replaying the shipped passing solutions with a
judge scripted to answer like that, the band gate must say so; and calibrate.py must move the
idea_proposal threshold so the same scores land in band. The judge here is a script: this checks
the harness (gate, calibration, transcripts), not any model's judgement.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.servers import messages_api as m

pytestmark = pytest.mark.offline

ROOT = Path(__file__).resolve().parent.parent
LIT = ROOT / "tasks" / "literature_review"
IDEA = ROOT / "tasks" / "idea_proposal"


def verdict(body: dict, scores: dict[str, float]) -> dict:
    return m.message(m.tool_use("record_verdict", {"injection_detected": False, "criteria": [
        {"criterion": k, "reason": "scripted", "verdict": "partly_met", "score": v} for k, v in scores.items()]}), model=body["model"])


class IdeaJudge:
    """Scores the k-th idea it is shown 4.0 + (37k mod 30)/10 on every criterion (mean about 5.5)."""

    def __init__(self) -> None:
        self.k = itertools.count()
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> dict:
        with self.lock:
            k = next(self.k)
        s = 4.0 + (k * 37 % 30) / 10
        return verdict(body, {c: s for c in ("business_viability", "upside", "likelihood_of_success", "novelty")})


def pytest_run(tmp_path: Path, server, task: Path, replay: list[Path], *args: str, env: dict | None = None):
    rdir = tmp_path / f"replay-{task.name}"
    rdir.mkdir(exist_ok=True)
    for p in replay:
        shutil.copy(p, rdir / p.name)
    report = tmp_path / f"report-{task.name}.json"
    e = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "PYTEST_XDIST", "RLTASK_"))}
    e.update({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": server.url, **(env or {})})
    res = subprocess.run(
        [sys.executable, "-m", "pytest", str(task), "-m", "not offline", "-p", "no:cacheprovider", "-q",
         "--rl-agent", "replay", "--rl-replay", str(rdir), "--rl-runs", "10", f"--rl-report={report}", *args],
        cwd=ROOT, env=e, capture_output=True, text=True, timeout=600,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return res, data


def test_literature_review_at_8_of_10_is_too_easy(tmp_path):
    refs = sorted(LIT.glob("solutions/reference_*.json"))
    assert len(refs) == 3  # one per topic: run i plays file i mod 3 at seed i, i.e. its own topic
    with m.MessagesAPIServer(lambda body: verdict(body, {"coverage": 3, "seminal_works": 2, "synthesis": 3})) as server:
        res, data = pytest_run(tmp_path, server, LIT, refs, "-n", "2")
    assert not server.problems, server.problems
    (t,) = data["tasks"].values()
    assert (t["passed"], t["failed"], t["errors"], t["verdict"]) == (10, 0, 0, "too_easy"), res.stdout[-3000:]
    assert t["scores"]["judge_points"] == 8 and res.returncode == 1
    assert len(server.requests) == 10 and {r["model"] for r in server.requests} == {"claude-sonnet-5-5"}


def test_idea_proposal_fixed_threshold_is_too_hard_and_calibration_brings_it_in_band(tmp_path):
    strong = [IDEA / "solutions" / "strong.json", IDEA / "solutions" / "strong_alt.json"]
    with m.MessagesAPIServer(IdeaJudge()) as server:
        res, data = pytest_run(tmp_path, server, IDEA, strong, "--rl-transcripts", str(tmp_path / "tr"),
                               env={"RLTASK_IDEA_PROPOSAL_THRESHOLD": "7"})
    (t,) = data["tasks"].values()
    assert (t["passed"], t["failed"], t["verdict"]) == (0, 10, "too_hard"), res.stdout[-3000:]
    assert t["failures"] == {"low_judge_score": 10} and 5.0 < t["scores"]["judge_mean"] < 6.0
    assert len(server.requests) == 35  # 5 runs x 4 ideas + 5 runs x 3 ideas

    out = tmp_path / "calibration.json"
    cal = subprocess.run([sys.executable, "-m", "tasks.idea_proposal.calibrate", "--transcripts", str(tmp_path / "tr"),
                          "--write", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert cal.returncode == 0, cal.stderr
    c = json.loads(out.read_text())
    assert c["measured"] and c["runs"] == 10 and c["runs_judged"] == 10
    assert 0.1 <= c["achieved_pass_rate"] <= 0.4 and c["threshold"] < 7

    with m.MessagesAPIServer(IdeaJudge()) as server:  # the same scores again, the calibrated threshold
        res, data = pytest_run(tmp_path, server, IDEA, strong,
                               env={"RLTASK_IDEA_PROPOSAL_THRESHOLD": str(c["threshold"])})
    (t,) = data["tasks"].values()
    assert t["verdict"] == "in_band" and t["pass_rate"] == c["achieved_pass_rate"], res.stdout[-3000:]
    assert res.returncode == 0
