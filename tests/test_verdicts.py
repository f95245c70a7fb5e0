"""Band verdicts that hold under pytest's own features (issue 11), end to end through pytester.

Early stop and the sequential test, partial selections (-k, --deselect, --lf), reruns
(pytest-rerunfailures), --collect-only, junitxml and pytest's final line, re-grading recorded runs
by run id and instance, --rl-resume. Each runs at -n 0 and, where scheduling matters, -n 2.
"""
from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from test_plugin import TASK_MODULE, answers, run, traj  # the echo task and its helpers

T = "test_echo.py::test_echo"


@pytest.fixture
def task_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_echo=TASK_MODULE)
    return pytester


def stable(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    data.pop("isolation", None)
    for t in data["tasks"].values():
        t.pop("seconds")
    return data


# -- options ----------------------------------------------------------------------------------------
def test_new_options_have_help_ini_twins_and_usage_errors(task_dir: pytest.Pytester) -> None:
    res = task_dir.runpytest_subprocess("--help")
    for opt in ("--rl-early-stop", "--rl-confidence", "--rl-resume"):
        res.stdout.fnmatch_lines([f"*{opt}=*"])
    for ini in ("rl_early_stop", "rl_confidence", "rl_resume"):
        res.stdout.fnmatch_lines([f"*{ini} (*"])
    for args, msg in ((["--rl-early-stop", "yes"], "*--rl-early-stop takes on or off*"),
                      (["--rl-confidence", "95"], "*--rl-confidence takes a level*not a percentage*"),
                      (["--rl-confidence", "0.3"], "*--rl-confidence takes a level*"),
                      (["--rl-resume", "nowhere"], "*--rl-resume: *nowhere is not a directory*")):
        r = task_dir.runpytest_subprocess(*args)
        assert r.ret == pytest.ExitCode.USAGE_ERROR
        r.stderr.fnmatch_lines([msg])
    task_dir.makeini("[pytest]\nrl_early_stop = maybe\n")
    assert task_dir.runpytest_subprocess().ret == pytest.ExitCode.USAGE_ERROR


# -- early stop -------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "2"])
def test_all_passing_40_runs_stop_after_17_identically(task_dir: pytest.Pytester, workers: str) -> None:
    d = answers(task_dir, "pass")
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "40", "--rl-early-stop", "on", "-n", workers)
    t = data["tasks"][T]
    assert (t["verdict"], t["played"], t["skipped"], t["decided_after"]) == ("too_easy", 17, 23, 17), res.stdout.str()
    assert (t["passed"], t["failed"], t["runs"], t["planned"]) == (17, 0, 40, 40)
    assert res.ret == 1 and data["verdict"] == "fail" and data["early_stop"] is True
    res.assert_outcomes(passed=17, skipped=23, failed=1)  # the failed one: the task's band gate
    res.stdout.fnmatch_lines(["*23 run(s) not played*", "*session verdict: fail*"])
    (task_dir.path / f"n{workers}.json").write_text(json.dumps(stable(data)))


def test_early_stop_is_the_same_at_n0_and_n2(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "fail:x", "pass", "pass", "fail:x", "pass", "fail:x", "fail:x", "pass", "pass")
    _, a = run(task_dir, f"--rl-replay={d}", "--rl-early-stop", "on", "-n", "0")
    _, b = run(task_dir, f"--rl-replay={d}", "--rl-early-stop", "on", "-n", "2")
    assert stable(a) == stable(b)
    t = a["tasks"][T]
    # 5 passes in runs 1-9 make 10 runs too_easy whatever run 10 does; before that 4/10 was reachable
    assert t["verdict"] == "too_easy" and t["decided_after"] == 9 and t["skipped"] == 1


def test_replay_plays_every_run_unless_asked(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass")
    res, data = run(task_dir, f"--rl-replay={d}")
    t = data["tasks"][T]
    assert (t["played"], t["skipped"], t["verdict"], t["decided_after"]) == (10, 0, "too_easy", 5)
    assert data["early_stop"] is False and res.ret == 1


def test_sequential_test_decides_all_passing_in_9_runs(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass")
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "40", "--rl-confidence", "0.9",
                    "--rl-early-stop", "on")
    t = data["tasks"][T]
    assert (t["verdict"], t["rule"], t["confidence"], t["played"]) == ("too_easy", "sprt", 0.9, 9)
    assert res.ret == 1


def test_ten_runs_at_20_percent_are_in_band_but_not_confirmed(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", *["fail:x"] * 8)
    res, data = run(task_dir, f"--rl-replay={d}")
    t = data["tasks"][T]
    assert t["verdict"] == "in_band" and t["confirmed_in_band"] is False and res.ret == 0
    assert t["pass_at_k"] == {"1": 0.2, "5": round(1 - 56 / 252, 4), "10": 1.0}
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-confidence", "0.9")
    t = data["tasks"][T]
    assert t["verdict"] == "inconclusive" and res.ret == 1  # ten runs cannot confirm the band
    res.stdout.fnmatch_lines(["*did not decide within 10 runs*"])


# -- partial selections -----------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "2"])
def test_k_selection_of_some_runs_is_partial_never_in_band(task_dir: pytest.Pytester, workers: str) -> None:
    d = answers(task_dir, *(["pass"] + ["fail:x"] * 9))  # 2 passes in 20: too_hard ... -k picks run-1x
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "20", "-n", workers)
    assert data["tasks"][T]["verdict"] == "in_band" and res.ret == 0  # 2/20 = 0.10, inclusive
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "20", "-k", "run-1", "-n", workers)
    t = data["tasks"][T]
    assert t["runs"] == 11 and t["planned"] == 20 and t["verdict"] == "partial"
    assert res.ret == 1 and data["verdict"] == "fail"
    res.stdout.fnmatch_lines(["*only 11 of its 20 runs were selected*"])


def test_deselect_one_run_is_partial(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", *["fail:x"] * 8)
    res, data = run(task_dir, f"--rl-replay={d}", "--deselect", f"{T}[run-10]")
    assert data["tasks"][T]["verdict"] == "partial" and res.ret == 1


def test_last_failed_is_partial(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", "boom", *["fail:x"] * 7)
    args = ("--rl-agent", "replay", f"--rl-replay={d}", "--rl-min-runs", "9")
    first = task_dir.runpytest_subprocess(*args)
    assert first.ret == 1  # the grader error fails the session
    report = task_dir.path / "lf.json"
    again = task_dir.runpytest_subprocess(*args, "--lf", f"--rl-report={report}")
    t = json.loads(report.read_text())["tasks"][T]
    assert t["runs"] == 1 and t["verdict"] == "partial" and again.ret == 1


# -- reruns -----------------------------------------------------------------------------------------
FLAKY_GRADER = '''
from pathlib import Path
from pytest_rltask import Task, fail

TASK = Task(prompt="say something", tools=["submit_answer"], max_steps=3)

def test_echo(rollout):
    marker = Path(__file__).with_name(f"tried-{rollout.seed}")
    first = not marker.exists()
    marker.write_text("x")
    if rollout.answer == "flaky" and first:
        raise RuntimeError("harness hiccup on the first attempt")
    if rollout.answer != "pass" and rollout.answer != "flaky":
        fail("x", "no")
'''


@pytest.mark.parametrize("flag", ["--reruns", "--force-reruns"])
@pytest.mark.parametrize("workers", ["0", "2"])
def test_reruns_count_the_first_attempt_only(pytester: pytest.Pytester, flag: str, workers: str) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(test_echo=FLAKY_GRADER)
    d = answers(pytester, "flaky", "flaky", *["fail:x"] * 8)
    res, data = run(pytester, f"--rl-replay={d}", flag, "2", "-n", workers)
    t = data["tasks"][T]
    # the first attempts errored; a retry that passed would have made 2/10 in_band
    assert (t["passed"], t["errors"], t["failed"]) == (0, 2, 8), res.stdout.str()
    assert res.ret == 1 and data["verdict"] == "fail"
    assert "2 passed" not in res.stdout.lines[-1]


def test_reruns_of_failed_rollouts_do_not_happen(task_dir: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    d = answers(task_dir, "fail:x")
    res, data = run(task_dir, f"--rl-replay={d}", "--reruns", "2")
    t = data["tasks"][T]
    assert (t["passed"], t["failed"], t["verdict"]) == (0, 10, "too_hard") and res.ret == 1
    assert "rerun" not in res.stdout.lines[-1]


# -- collect-only, junitxml, the final line ---------------------------------------------------------
def test_collect_only_writes_no_report(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", *["fail:x"] * 8)
    res, data = run(task_dir, f"--rl-replay={d}")
    assert data["verdict"] == "pass"
    before = (task_dir.path / "report.json").read_text()
    res, data = run(task_dir, f"--rl-replay={d}", "--collect-only")
    assert res.ret == 0 and (task_dir.path / "report.json").read_text() == before


@pytest.mark.parametrize("workers", ["0", "2"])
def test_junitxml_and_final_line_agree_with_the_exit_status(task_dir: pytest.Pytester, workers: str) -> None:
    inband = answers(task_dir, "pass", "pass", *["fail:x"] * 8, name="inband")
    hard = answers(task_dir, "fail:x", name="hard")
    for d, ret, verdict in ((inband, 0, "in_band"), (hard, 1, "too_hard")):
        xml = task_dir.path / f"junit-{d.name}.xml"
        res, data = run(task_dir, f"--rl-replay={d}", f"--junitxml={xml}", "-n", workers)
        assert res.ret == ret and data["tasks"][T]["verdict"] == verdict
        suite = ET.parse(xml).getroot().find("testsuite")
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["rltask_verdict"] == ("pass" if ret == 0 else "fail")
        assert props[f"rltask_verdict[{T}]"] == verdict
        assert int(suite.get("failures")) + int(suite.get("errors")) == (0 if ret == 0 else 1)
        last = res.stdout.lines[-1]
        assert bool(re.search(r"\b\d+ failed", last)) == (ret == 1), last
        if ret:
            gate = [c for c in suite.iter("testcase") if c.get("name") == "rltask_band"]
            assert len(gate) == 1 and "too_hard: 0/10 passed" in gate[0].find("failure").get("message")
            res.stdout.fnmatch_lines(["*FAILED test_echo.py::test_echo::rltask_band*"])


# -- re-grading recorded runs -----------------------------------------------------------------------
SECRET_TASK = '''
import hashlib
from pytest_rltask import Task, fail

def files(ws, instance):
    (ws / "number.txt").write_text(str(instance % 1000))

TASK = Task(prompt="read number.txt, submit it plus the run number", tools=["submit_answer", "read_file"],
            max_steps=4, files=files)

def test_echo(rollout):
    want = str(rollout.instance % 1000 + rollout.seed)
    if rollout.answer != want:
        fail("wrong_answer", f"{rollout.answer} != {want}")
'''


def secret_runs(pytester: pytest.Pytester, n: int, wrong: set[int]) -> Path:
    """n recorded-style runs: run i was played on its own instance and answered for it and its seed."""
    d = pytester.mkdir("played")
    for i in range(1, n + 1):
        instance = int(hashlib.sha256(f"inst-{i}".encode()).hexdigest()[:15], 16)
        answer = str(instance % 1000 + i + (7 if i in wrong else 0))
        data = json.loads(traj(answer))
        data["instance"] = instance
        (d / f"{i:02d}.json").write_text(json.dumps(data))
    return d


def outcomes(folder: Path) -> dict[str, str]:
    out = {}
    for f in sorted(folder.rglob("run-*.jsonl")):
        events = [json.loads(x) for x in f.read_text().splitlines()]
        out[f.stem] = next(e["outcome"] for e in events if e["type"] == "outcome")
    return out


def test_regrading_ten_recorded_runs_reproduces_their_outcomes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo=SECRET_TASK)
    workers = "2"  # runs finish out of order; the mapping must not care
    played = secret_runs(pytester, 10, wrong=set(range(1, 11)) - {3, 7, 10})
    res, first = run(pytester, f"--rl-replay={played}", "--rl-transcripts=tr", "-n", workers)
    recorded = outcomes(pytester.path / "tr")
    assert [k for k, v in recorded.items() if v == "passed"] == ["run-10", "run-3", "run-7"], res.stdout.str()
    # re-grade the whole transcript tree (and a task's folder): run-2 must play run-2.jsonl, not run-10
    for source in ("tr", "tr/test_echo.py_test_echo"):
        out = f"regrade-{source.replace('/', '_')}"
        res, again = run(pytester, f"--rl-replay={source}", f"--rl-transcripts={out}", "-n", workers)
        assert outcomes(pytester.path / out) == recorded, res.stdout.str()
        assert again["tasks"][T]["passed"] == 3 and res.ret == 0
        metas = {f.stem: json.loads(f.read_text().splitlines()[0]) for f in (pytester.path / out).rglob("*.jsonl")}
        firsts = {f.stem: json.loads(f.read_text().splitlines()[0]) for f in (pytester.path / "tr").rglob("*.jsonl")}
        assert all(metas[k]["instance"] == firsts[k]["instance"] and metas[k]["seed"] == firsts[k]["seed"] for k in metas)


def test_regrading_in_place_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo=SECRET_TASK)
    played = secret_runs(pytester, 2, wrong=set())
    run(pytester, f"--rl-replay={played}", "--rl-transcripts=tr", "--rl-runs", "2", "--rl-min-runs", "2")
    before = {f: f.read_text() for f in (pytester.path / "tr").rglob("*.jsonl")}
    res = pytester.runpytest_subprocess("--rl-agent", "replay", "--rl-replay", "tr/test_echo.py_test_echo",
                                        "--rl-transcripts", "tr")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*overlap: a re-grade would write over the transcripts it reads*"])
    assert {f: f.read_text() for f in (pytester.path / "tr").rglob("*.jsonl")} == before


def test_a_directory_without_this_run_is_an_error_not_another_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo=SECRET_TASK)
    played = secret_runs(pytester, 3, wrong=set())
    run(pytester, f"--rl-replay={played}", "--rl-transcripts=tr", "--rl-runs", "3", "--rl-min-runs", "3")
    res, data = run(pytester, "--rl-replay=tr", "--rl-transcripts=tr2", "--rl-runs", "4", "--rl-min-runs", "3")
    t = data["tasks"][T]
    assert (t["passed"], t["errors"]) == (3, 1) and res.ret == 1
    res.stdout.fnmatch_lines(["*no recorded transcript of run-4*"])


# -- resume -----------------------------------------------------------------------------------------
def test_resume_plays_only_missing_or_errored_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo=TASK_MODULE)
    first = answers(pytester, "pass", "boom", "fail:x", "boom", "fail:x", name="first")
    res, data = run(pytester, f"--rl-replay={first}", "--rl-transcripts=tr", "--rl-runs", "5", "--rl-min-runs", "5")
    assert data["tasks"][T]["errors"] == 2 and res.ret == 1
    # the second session's agent answers differently: only the errored runs (2, 4) and the new run 6 use it
    second = answers(pytester, "fail:y", name="second")
    res, data = run(pytester, f"--rl-replay={second}", "--rl-resume=tr", "--rl-transcripts=tr2",
                    "--rl-runs", "6", "--rl-min-runs", "6")
    t = data["tasks"][T]
    assert (t["passed"], t["failed"], t["errors"], t["regraded"]) == (1, 5, 0, 3), res.stdout.str()
    assert t["failures"] == {"x": 2, "y": 3} and t["verdict"] == "in_band" and res.ret == 0
    metas = {f.stem: json.loads(f.read_text().splitlines()[0]) for f in (pytester.path / "tr2").rglob("*.jsonl")}
    assert metas["run-1"]["source"].endswith("tr/test_echo.py_test_echo/run-1.jsonl")
    assert metas["run-2"]["source"].endswith("second/00.json")
