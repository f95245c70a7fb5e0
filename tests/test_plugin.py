"""The plugin end to end through pytester: options, outcomes, the report, exit codes, xdist parity."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

TASK_MODULE = '''
import os
import pytest
from pytest_rltask import Task, fail, category

TASK = Task(prompt="say something", tools=["submit_answer"], max_steps=3)

def test_echo(rollout):
    a = rollout.answer
    rollout.score("length", len(a))
    if a == "pass":
        return
    if a.startswith("fail:"):
        fail(a[5:], "asked to fail")
    if a == "assert":
        assert a == "something else"
    if a == "cat":
        with category("wrong_answer"):
            assert a == "dog"
    if a == "skip":
        pytest.skip("grader gave up")
    if a == "xfail":
        pytest.xfail("grader gave up")
    if a == "boom":
        raise RuntimeError("grader bug")
    if a == "crash":
        os._exit(3)
'''


def traj(answer: str, expect: str | None = None, category: str | None = None) -> str:
    data = {"steps": [{"tool": "submit_answer", "input": {"answer": answer}}]}
    if expect:
        data.update(expect=expect, category=category, note=f"answers {answer}")
    return json.dumps(data)


@pytest.fixture
def task_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_echo=TASK_MODULE)
    return pytester


def answers(pytester: pytest.Pytester, *values: str, name: str = "runs") -> Path:
    d = pytester.mkdir(name)
    for i, v in enumerate(values):
        (d / f"{i:02d}.json").write_text(traj(v))
    return d


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "report.json"
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "replay", f"--rl-report={report}", *args)
    data = json.loads(report.read_text()) if report.exists() else {}
    return res, data


# -- options ------------------------------------------------------------------------------------
def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("--help")
    for opt in ("--rl-runs", "--rl-band", "--rl-agent", "--rl-model", "--rl-replay", "--rl-report",
                "--rl-transcripts", "--rl-min-runs", "--rl-isolation", "--rl-max-retries"):
        res.stdout.fnmatch_lines([f"*{opt}=*"])
    for ini in ("rl_runs", "rl_band", "rl_agent", "rl_model", "rl_replay", "rl_report", "rl_transcripts", "rl_min_runs"):
        res.stdout.fnmatch_lines([f"*{ini} (*"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rl-runs", "0"], "--rl-runs takes a whole number >= 1*"),
        (["--rl-runs", "ten"], "--rl-runs takes a whole number >= 1*"),
        (["--rl-band", "10,40"], "*--rl-band takes two fractions*(fractions, not percentages)*"),
        (["--rl-band", "0.5,0.2"], "*--rl-band takes two fractions*"),
        (["--rl-band", "0.1"], "*--rl-band takes two fractions*"),
        (["--rl-agent", "gpt"], "*--rl-agent takes one of anthropic, openai, replay*"),
        (["--rl-replay", "nowhere"], "*--rl-replay: *nowhere does not exist*"),
        (["--rl-min-runs", "-1"], "*--rl-min-runs takes a whole number*"),
        (["--rl-isolation", "podman"], "*--rl-isolation takes one of*"),
    ],
)
def test_bad_values_are_usage_errors(task_dir: pytest.Pytester, args: list[str], message: str) -> None:
    res = task_dir.runpytest_subprocess(*args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([f"*{message}"])


def test_bad_marker_keyword_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo="import pytest\n" + TASK_MODULE.replace(
        "def test_echo", "@pytest.mark.rltask(rounds=3)\ndef test_echo"))
    res = pytester.runpytest_subprocess("--rl-agent", "replay")
    assert res.ret == pytest.ExitCode.INTERRUPTED  # a collection error naming the fix
    res.stdout.fnmatch_lines(["*rltask marker: unknown keyword(s) *rounds*; known: task, runs, band*"])


def test_runs_make_stable_ids_and_ini_twin(task_dir: pytest.Pytester) -> None:
    task_dir.makeini("[pytest]\nrl_runs = 3\n")
    res = task_dir.runpytest_subprocess("--collect-only", "-q")
    res.stdout.fnmatch_lines(["test_echo.py::test_echo[[]run-1[]]", "test_echo.py::test_echo[[]run-2[]]",
                              "test_echo.py::test_echo[[]run-3[]]", "3 tests collected*"])
    res = task_dir.runpytest_subprocess("--collect-only", "-q", "--rl-runs", "2")  # CLI beats ini
    res.stdout.fnmatch_lines(["2 tests collected*"])


def test_marker_overrides_ini_but_not_cli(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_echo="import pytest\n" + TASK_MODULE.replace(
        "def test_echo", "@pytest.mark.rltask(runs=4)\ndef test_echo"))
    pytester.makeini("[pytest]\nrl_runs = 2\n")
    assert "4 tests collected" in str(pytester.runpytest_subprocess("--collect-only", "-q").stdout)
    assert "5 tests collected" in str(pytester.runpytest_subprocess("--collect-only", "-q", "--rl-runs=5").stdout)


# -- outcomes, report, exit codes ---------------------------------------------------------------
def test_in_band_session_exits_0_with_failed_runs(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", *["fail:wrong"] * 5, "assert", "cat", "fail:wrong")
    res, data = run(task_dir, f"--rl-replay={d}")
    assert res.ret == 0, res.stdout.str()
    res.assert_outcomes(passed=2, xfailed=8)  # the model's failures are measurements, not broken tests
    t = data["tasks"]["test_echo.py::test_echo"]
    assert (t["runs"], t["passed"], t["failed"], t["errors"]) == (10, 2, 8, 0)
    assert t["pass_rate"] == 0.2 and t["verdict"] == "in_band"
    assert t["failures"] == {"assertion": 1, "wrong": 6, "wrong_answer": 1}
    assert t["ci95"] == [0.057, 0.51]
    assert data["verdict"] == "pass" and data["agent"] == "replay" and data["band"] == [0.1, 0.4]
    assert data["isolation"] in ("bubblewrap", "unshare", "none")
    assert t["scores"]["length"] > 0
    res.stdout.fnmatch_lines(["*rltask pass rates*", "*test_echo.py::test_echo*10*2*8*0*20%*in_band*", "*session verdict: pass*"])


@pytest.mark.parametrize("n_pass, verdict", [(0, "too_hard"), (5, "too_easy"), (10, "too_easy")])
def test_out_of_band_exits_1(task_dir: pytest.Pytester, n_pass: int, verdict: str) -> None:
    d = answers(task_dir, *(["pass"] * n_pass + ["fail:x"] * (10 - n_pass)))
    res, data = run(task_dir, f"--rl-replay={d}")
    assert res.ret == 1
    assert data["tasks"]["test_echo.py::test_echo"]["verdict"] == verdict
    assert data["verdict"] == "fail"


def test_band_is_inclusive_and_settable(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, *(["pass"] * 4 + ["fail:x"] * 6))
    res, data = run(task_dir, f"--rl-replay={d}")
    assert res.ret == 0 and data["tasks"]["test_echo.py::test_echo"]["verdict"] == "in_band"
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-band", "0.5,0.9")
    assert res.ret == 1 and data["tasks"]["test_echo.py::test_echo"]["verdict"] == "too_hard"


def test_skip_and_xfail_in_a_grader_are_failures(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "skip", "xfail", *["fail:x"] * 7)
    res, data = run(task_dir, f"--rl-replay={d}")
    res.assert_outcomes(passed=1, xfailed=9)
    t = data["tasks"]["test_echo.py::test_echo"]
    assert t["failures"] == {"grader_skip": 2, "x": 7}
    assert t["pass_rate"] == 0.1


def test_grader_exception_is_an_error_excluded_from_the_rate(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", "boom", *["fail:x"] * 7)
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-min-runs", "9")
    t = data["tasks"]["test_echo.py::test_echo"]
    assert (t["passed"], t["failed"], t["errors"]) == (2, 7, 1)
    assert t["error_kinds"] == {"RuntimeError": 1}
    assert t["pass_rate"] == round(2 / 9, 4) and t["verdict"] == "in_band"
    assert res.ret == 1 and data["verdict"] == "fail"  # any error fails the session


def test_too_few_runs_is_not_measured(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "fail:x", "fail:x")
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "3")
    assert res.ret == 1
    assert data["tasks"]["test_echo.py::test_echo"]["verdict"] == "not_measured"
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "3", "--rl-min-runs", "3")
    assert res.ret == 0


def test_no_submission_is_a_harness_category(task_dir: pytest.Pytester) -> None:
    d = task_dir.mkdir("runs")
    (d / "a.json").write_text(json.dumps({"steps": []}))
    (d / "b.json").write_text(traj("pass"))
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "2", "--rl-min-runs", "2", "-rx")
    t = data["tasks"]["test_echo.py::test_echo"]
    assert t["failures"] == {"no_submission": 1} and t["passed"] == 1
    # the model's failure is an xfailed item whose reason names the category
    res.stdout.fnmatch_lines(["*XFAIL test_echo.py::test_echo[[]run-1[]]*[[]no_submission[]] the agent did not submit*"])


def test_live_agent_without_key_is_an_error_that_says_how(task_dir: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    res = task_dir.runpytest_subprocess("-p", "no:cacheprovider", "--rl-runs", "1", "--rl-min-runs", "1")
    assert res.ret == 1
    res.assert_outcomes(errors=1, failed=1)  # the run's error, and the task's band gate (not measured)
    res.stdout.fnmatch_lines(["*ANTHROPIC_API_KEY*"])


# -- offline solution checks ---------------------------------------------------------------------
def test_solutions_become_offline_items_checked_against_expect(task_dir: pytest.Pytester) -> None:
    sol = task_dir.mkdir("solutions")
    (sol / "reference.json").write_text(traj("pass", "pass"))
    (sol / "hack.json").write_text(traj("fail:hacked", "fail", "hacked"))
    (sol / "any_fail.json").write_text(traj("cat", "fail"))
    (sol / "skipper.json").write_text(traj("skip", "fail", "grader_skip"))
    (sol / "wrong_claim.json").write_text(traj("fail:oops", "pass"))
    (sol / "wrong_category.json").write_text(traj("fail:other", "fail", "hacked"))
    res = task_dir.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline", "-rA")
    res.assert_outcomes(passed=4, failed=2, deselected=10)
    res.stdout.fnmatch_lines([
        "*solution wrong_category.json should fail with category 'hacked', but grader said failed [[]other[]]*",
        "*solution wrong_claim.json should pass, but grader said failed [[]oops[]]*",
    ])
    assert res.ret == 1


def test_replay_defaults_to_the_tasks_solutions(task_dir: pytest.Pytester) -> None:
    sol = task_dir.mkdir("solutions")
    (sol / "a.json").write_text(traj("pass", "pass"))
    (sol / "b.json").write_text(traj("fail:x", "fail", "x"))
    (sol / "c.json").write_text(traj("fail:x", "fail", "x"))
    (sol / "d.json").write_text(traj("fail:x", "fail", "x"))
    (sol / "e.json").write_text(traj("fail:x", "fail", "x"))
    res, data = run(task_dir, "-m", "not offline")
    t = data["tasks"]["test_echo.py::test_echo"]
    assert (t["passed"], t["failed"]) == (2, 8)  # runs 1 and 6 play a.json
    assert res.ret == 0


# -- transcripts ----------------------------------------------------------------------------------
def test_transcripts_are_written_and_replay_as_trajectories(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "fail:x")
    res, _ = run(task_dir, f"--rl-replay={d}", "--rl-runs", "2", "--rl-min-runs", "2", "--rl-transcripts=tr")
    files = sorted((task_dir.path / "tr").rglob("*.jsonl"))
    assert [f.name for f in files] == ["run-1.jsonl", "run-2.jsonl"]
    events = [json.loads(x) for x in files[0].read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "meta" and "tool_call" in kinds and kinds[-1] == "outcome"
    assert events[-1]["outcome"] == "passed"
    # re-grade the recorded run: the transcript plays as a trajectory
    res, data = run(task_dir, f"--rl-replay={files[1]}", "--rl-runs", "1", "--rl-min-runs", "1")
    assert data["tasks"]["test_echo.py::test_echo"]["failures"] == {"x": 1}


# -- xdist ----------------------------------------------------------------------------------------
def test_same_verdicts_at_n0_and_n2(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "skip", "boom", "pass", "pass", *["fail:x"] * 5)
    _, serial = run(task_dir, f"--rl-replay={d}", "-n", "0")
    res, par = run(task_dir, f"--rl-replay={d}", "-n", "2")
    for data in (serial, par):
        data.pop("isolation")
        for t in data["tasks"].values():
            t.pop("seconds")
    assert serial == par
    assert res.ret == 1  # the grader error fails the session either way


def test_worker_crash_fails_closed(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", "crash", *["fail:x"] * 7)
    res, data = run(task_dir, f"--rl-replay={d}", "-n", "2")
    assert res.ret == 1
    t = data["tasks"]["test_echo.py::test_echo"]
    assert t["errors"] >= 1 and data["verdict"] == "fail"


def test_missing_results_fail_closed(task_dir: pytest.Pytester) -> None:
    d = answers(task_dir, "pass", "pass", "boom", *["fail:x"] * 7)
    res, data = run(task_dir, f"--rl-replay={d}", "-x", "--maxfail=1")
    # stopped early: runs never reported are missing, and the session must not go green
    t = data["tasks"]["test_echo.py::test_echo"]
    assert t["missing"] > 0 and t["verdict"] == "not_measured"
    assert res.ret == 1


def test_no_tests_and_usage_codes_are_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    assert pytester.runpytest_subprocess("-k", "nothing").ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert pytester.runpytest_subprocess().ret == 0  # no rollouts: the gate stays out of the way


def test_report_hook_receives_the_json_report(task_dir: pytest.Pytester) -> None:
    task_dir.makeconftest(
        "import json\n"
        "def pytest_rltask_report(config, report):\n"
        "    open('hooked.json', 'w').write(json.dumps(report))\n"
    )
    d = answers(task_dir, "pass", "fail:x", "fail:x")
    res, data = run(task_dir, f"--rl-replay={d}", "--rl-runs", "3", "--rl-min-runs", "3")
    assert json.loads((task_dir.path / "hooked.json").read_text()) == data


def test_collect_only_runs_no_gate(task_dir: pytest.Pytester) -> None:
    answers(task_dir, "ok", "no")
    res = task_dir.runpytest("--collect-only", "-q", "--rl-agent", "replay", "--rl-replay", "runs", "--rl-runs", "3")
    assert res.ret == 0 and "session verdict" not in res.stdout.str()
