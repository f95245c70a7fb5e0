"""The whole plugin with a live backend: real SDKs, a local API server, the band gate.

The pytest under test runs in a subprocess; the scripted "model" runs here, behind a real HTTP
server on 127.0.0.1 that the SDK reaches through ANTHROPIC_BASE_URL / OPENAI_BASE_URL.
"""
from __future__ import annotations

import itertools
import json
import threading

import pytest

from tests.servers import chat_api, messages_api as m

TASK = '''
from pytest_rltask import Task, category

TASK = Task(prompt="Compute (2^10 + 3^5) * 7 - 100 with python, then submit it.",
            tools=["write_file", "run_python", "submit_answer"], max_steps=6)

def test_arith(rollout):
    with category("wrong_answer"):
        assert rollout.answer.strip() == "8769"
'''


class ArithmeticModel:
    """Plays the task: write a script, run it, submit. The first ``good`` rollouts answer right."""

    def __init__(self, good: int) -> None:
        self.good = good
        self.starts = itertools.count()
        self.lock = threading.Lock()
        self.right: dict[str, bool] = {}

    def __call__(self, body: dict) -> dict:
        msgs = body["messages"]
        if len(msgs) == 1:  # a new rollout
            with self.lock:
                n = next(self.starts)
            expr = "(2**10 + 3**5) * 7 - 100" if n < self.good else "(2^10 + 3^5) * 7 - 100"
            return m.message(m.tool_use("write_file", {"path": "calc.py", "content": f"print({expr})\n"}))
        results = m.tool_results(body)
        text = m.result_text(results[0]) if results else ""
        if len(msgs) == 3:
            return m.message(m.tool_use("run_python", {"path": "calc.py"}))
        out = text.split("stdout:\n", 1)[-1].split("\n", 1)[0].strip()
        return m.message("The result is computed.", m.tool_use("submit_answer", {"answer": out}))


def _run(pytester, env: dict, *args: str):
    report = pytester.path / "report.json"
    for k, v in env.items():
        pytester._monkeypatch.setenv(k, v)
    # every run is played: these tests count outcomes of all runs (early stop has its own tests)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--rl-report={report}",
                                        "--rl-early-stop", "off", *args)
    return res, (json.loads(report.read_text()) if report.exists() else {})


@pytest.fixture
def arith(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_arith=TASK)
    return pytester


@pytest.mark.parametrize("workers", ["0", "2"])
def test_anthropic_rollouts_through_the_sdk_reach_a_band_verdict(arith, workers) -> None:
    model = ArithmeticModel(good=3)
    with m.MessagesAPIServer(model) as server:
        res, data = _run(arith, {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "test-key"},
                         "-n", workers)
    assert not server.problems, server.problems
    t = data["tasks"]["test_arith.py::test_arith"]
    assert (t["passed"], t["failed"], t["errors"], t["verdict"]) == (3, 7, 0, "in_band"), res.stdout.str()
    assert t["failures"] == {"wrong_answer": 7}
    assert t["tokens"]["requests"] == 30 and t["tokens"]["input_tokens"] == 3000
    assert data["agent"] == "anthropic" and data["model"] == "claude-haiku-4-5"
    assert res.ret == 0
    assert all(r["model"] == "claude-haiku-4-5" for r in server.requests)


def test_rate_limits_are_retried_and_exhausted_retries_are_errors(arith) -> None:
    model = ArithmeticModel(good=10)
    calls = itertools.count()

    def flaky(body: dict):
        n = next(calls)
        if n == 0:
            return m.rate_limited()
        if n == 1:
            return m.overloaded()
        if len(body["messages"]) == 1 and n >= 10:
            return m.server_error()  # later rollouts: the API stays broken
        return model(body)

    with m.MessagesAPIServer(flaky) as server:
        res, data = _run(arith, {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "k"},
                         "--rl-runs", "4", "--rl-min-runs", "1", "--rl-max-retries", "2",
                         "--rl-concurrency", "1")  # the script counts requests in run order
    t = data["tasks"]["test_arith.py::test_arith"]
    # run 1 survived a 429 and a 529; runs 2-3 passed; run 4 hit 500 three times: an error
    assert (t["passed"], t["failed"], t["errors"]) == (3, 0, 1), res.stdout.str()
    assert t["error_kinds"] == {"AgentError": 1}
    assert res.ret == 1  # errors fail the session; never counted as a model failure
    res.stdout.fnmatch_lines(["*AgentError*500*"])


def test_openai_compatible_server_rollouts(arith) -> None:
    starts = itertools.count()

    def model(body: dict):
        msgs = body["messages"]
        n_tool = sum(1 for x in msgs if x["role"] == "tool")
        if n_tool == 0:
            good = next(starts) < 2
            expr = "(2**10 + 3**5) * 7 - 100" if good else "2**10"
            return chat_api.completion(chat_api.tool_call("write_file", {"path": "c.py", "content": f"print({expr})"}))
        if n_tool == 1:
            return chat_api.completion(chat_api.tool_call("run_python", {"path": "c.py"}))
        out = msgs[-1]["content"].split("stdout:\n", 1)[-1].split("\n", 1)[0].strip()
        return chat_api.completion(chat_api.tool_call("submit_answer", {"answer": out}))

    with chat_api.ChatAPIServer(model) as server:
        res, data = _run(arith, {"OPENAI_BASE_URL": server.url + "/v1", "OPENAI_API_KEY": "k"},
                         "--rl-agent", "openai", "--rl-model", "policy-7b")
    t = data["tasks"]["test_arith.py::test_arith"]
    assert (t["passed"], t["failed"], t["errors"], t["verdict"]) == (2, 8, 0, "in_band"), res.stdout.str()
    assert {r["model"] for r in server.requests} == {"policy-7b"}
    assert res.ret == 0
