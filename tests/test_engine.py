"""The rollout engine through the plugin and the real anthropic SDK against a local Messages API:
rollouts are in flight together, each is played once, results are the same at any concurrency and
any -n, rate limits are honoured, and a killed worker still fails closed."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.servers import Reply
from tests.servers import messages_api as m

TASK_MODULE = '''
from pytest_rltask import Task, category

TASK = Task(prompt="Compute (2^10 + 3^5) * 7 - 100 with python and submit it.",
            tools=["write_file", "run_python", "submit_answer"], max_steps=4)

def test_arith(rollout):
    with category("wrong_answer"):
        assert rollout.answer.strip() == "8769"
'''

SCRIPT = "print((2**10 + 3**5) * 7 - 100)\n"


class Model:
    """Two turns per rollout (write+run, then submit), ``delay`` s each; counts requests in flight;
    answers the first ``rate_limit_first`` requests with 429 and ``retry-after: 1``."""

    def __init__(self, delay: float, rate_limit_first: int = 0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self.first_turns = 0
        self.rate_limit_first = rate_limit_first
        self.limited = 0

    def __call__(self, body: dict) -> Reply:
        with self.lock:
            self.calls += 1
            if self.limited < self.rate_limit_first:
                self.limited += 1
                return Reply({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                             status=429, headers={"retry-after": "1"})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            if len(body["messages"]) == 1:
                with self.lock:
                    self.first_turns += 1
                return m.message(m.tool_use("write_file", {"path": "calc.py", "content": SCRIPT}),
                                 m.tool_use("run_python", {"path": "calc.py"}))
            out = m.result_text(m.tool_results(body)[-1]).split("stdout:\n", 1)[-1].split("\n", 1)[0].strip()
            return m.message(m.tool_use("submit_answer", {"answer": out}))
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def arith(pytester: pytest.Pytester) -> pytest.Pytester:
    from pytest_rltask.sandbox import detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    pytester.makepyfile(test_arith=TASK_MODULE)
    return pytester


def run(p: pytest.Pytester, server, *args: str, early_stop: str = "off") -> tuple[pytest.RunResult, dict]:
    report = p.path / f"report-{time.monotonic_ns()}.json"
    p._monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)  # noqa: SLF001 - pytester's own monkeypatch
    p._monkeypatch.setenv("ANTHROPIC_API_KEY", "test")  # noqa: SLF001
    band = [] if "--rl-band" in args else ["--rl-band", "0,1"]
    res = p.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "anthropic", *band,
                                 "--rl-early-stop", early_stop, f"--rl-report={report}", *args)
    return res, (json.loads(report.read_text()) if report.exists() else {})


def _stable(report: dict) -> dict:
    """The report without wall times (which differ by scheduling)."""
    out = json.loads(json.dumps(report))
    out.pop("engine", None)
    out.pop("concurrency", None)  # the setting that differs
    for t in out.get("tasks", {}).values():
        t.pop("seconds", None)
    return out


def test_rollouts_are_in_flight_together(arith: pytest.Pytester) -> None:
    model = Model(delay=0.5)
    with m.MessagesAPIServer(model) as server:
        res, report = run(arith, server, "--rl-runs", "10")
    assert res.ret == 0, res.stdout.str()[-3000:]
    assert report["tasks"]["test_arith.py::test_arith"]["passed"] == 10
    assert model.first_turns == 10, "every rollout is played exactly once"
    assert model.peak == 10, f"all 10 rollouts should wait on the model together, peak was {model.peak}"


def test_early_stop_plays_no_decided_run_yet_in_parallel(arith: pytest.Pytester) -> None:
    """Every rollout passes: 5 passes of 10 make the task too_easy under the fixed rule, so exactly 5
    rollouts are played, all 5 together (none of them could have been skipped)."""
    model = Model(delay=0.3)
    with m.MessagesAPIServer(model) as server:
        res, report = run(arith, server, "--rl-runs", "10", "--rl-band", "0.1,0.4", early_stop="on")
    t = report["tasks"]["test_arith.py::test_arith"]
    assert t["verdict"] == "too_easy" and t["passed"] == 5 and t["skipped"] == 5, t
    assert model.first_turns == 5, "a run of a decided task was played"
    assert model.peak == 5
    assert res.ret == 1


def test_concurrency_one_plays_one_at_a_time(arith: pytest.Pytester) -> None:
    model = Model(delay=0.05)
    with m.MessagesAPIServer(model) as server:
        res, _ = run(arith, server, "--rl-runs", "4", "--rl-concurrency", "1", "--rl-min-runs", "4")
    assert res.ret == 0, res.stdout.str()[-3000:]
    assert model.peak == 1 and model.first_turns == 4


@pytest.mark.parametrize("workers", ["0", "2"])
def test_same_report_at_any_concurrency(arith: pytest.Pytester, workers: str) -> None:
    reports = []
    for conc in ("1", "64"):
        model = Model(delay=0.02)
        with m.MessagesAPIServer(model) as server:
            res, report = run(arith, server, "--rl-runs", "6", "--rl-min-runs", "6", "--rl-concurrency", conc,
                              "-n", workers)
        assert res.ret == 0, res.stdout.str()[-3000:]
        assert model.first_turns == 6
        reports.append(_stable(report))
    assert reports[0] == reports[1]


def test_rate_limits_are_retried_and_no_run_is_lost(arith: pytest.Pytester) -> None:
    model = Model(delay=0.05, rate_limit_first=3)
    with m.MessagesAPIServer(model) as server:
        res, report = run(arith, server, "--rl-runs", "5", "--rl-min-runs", "5", "--rl-max-retries", "4")
    assert res.ret == 0, res.stdout.str()[-3000:]
    assert model.limited == 3 and model.first_turns == 5
    assert report["tasks"]["test_arith.py::test_arith"]["passed"] == 5


KILL_MODULE = TASK_MODULE.replace("def test_arith(rollout):", """import os

def test_arith(rollout):
    if rollout.seed == 2:  # the worker dies while the task's other rollouts are in flight
        os._exit(9)""")


def test_killed_worker_fails_closed(arith: pytest.Pytester) -> None:
    arith.makepyfile(test_arith=KILL_MODULE)
    model = Model(delay=0.2)
    with m.MessagesAPIServer(model) as server:
        res, report = run(arith, server, "--rl-runs", "4", "--rl-min-runs", "4", "-n", "2")
    assert res.ret != 0
    assert report.get("verdict") == "fail"
    t = report["tasks"]["test_arith.py::test_arith"]
    assert t["errors"] >= 1 and t["passed"] <= 3
