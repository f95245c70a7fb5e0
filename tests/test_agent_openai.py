"""The openai backend, through the real ``openai`` SDK, against a local OpenAI-compatible server."""
from __future__ import annotations

import asyncio
import json

import pytest

from pytest_rltask import sandbox, tools
from pytest_rltask.agents import AgentError, get_agent
from pytest_rltask.agents.openai import OpenAIAgent
from pytest_rltask.episode import Episode
from pytest_rltask.transcript import Transcript

try:
    from tests.servers.chat_api import (
        ChatAPIServer, completion, error, rate_limited, server_error, tool_call, tool_messages, usage,
    )
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from servers.chat_api import (
        ChatAPIServer, completion, error, rate_limited, server_error, tool_call, tool_messages, usage,
    )

pytestmark = pytest.mark.offline

PROMPT = "Compute (2^10 + 3^5) * 7 - 100 with Python and submit the number."
ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ADMIN_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
            "OPENAI_CUSTOM_HEADERS")


@pytest.fixture
def env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    servers = []

    def use(server, key="sk-test"):
        servers.append(server.start())
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        if key:
            monkeypatch.setenv("OPENAI_API_KEY", key)
        return server

    yield use
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def make_episode(tmp_path):
    made = []

    def make(names=("write_file", "run_python", "submit_answer"), max_steps=10, **kw):
        n = len(made)
        sb = sandbox.create(tmp_path / f"ws{n}", isolation="none")
        sb.workspace.mkdir(parents=True, exist_ok=True)
        ep = Episode(prompt=PROMPT, tools=tools.select(list(names)), sandbox=sb,
                     transcript=Transcript(tmp_path / f"t{n}.jsonl"), max_steps=max_steps, **kw)
        made.append(ep)
        return ep

    yield make
    for ep in made:
        ep.transcript.close()


def play(agent, *episodes):
    async def go():
        try:
            await asyncio.gather(*(agent.run(ep) for ep in episodes))
        finally:
            await agent.aclose()

    asyncio.run(go())


def events(ep, kind):
    return [e for e in ep.transcript.events if e["type"] == kind]


def submit(answer="8769"):
    return completion(tool_call("submit_answer", {"answer": answer}))


def test_full_rollout_to_submission(env, make_episode):
    def answer(body):
        (res,) = tool_messages(body)
        assert res["tool_call_id"] == "call_run"
        number = res["content"].split("stdout:\n")[1].split()[0]
        return completion("Done.", tool_call("submit_answer", {"answer": number}),
                          usage=usage(300, 10, cached_tokens=256))

    script = [
        completion("I'll compute it.",
                   tool_call("write_file", {"path": "calc.py", "content": "print((2**10 + 3**5) * 7 - 100)\n"},
                             id="call_write"),
                   usage=usage(200, 40)),
        completion(tool_call("run_python", {"path": "calc.py"}, id="call_run"),
                   usage=usage(250, 15, cached_tokens=128)),
        answer,
    ]
    with env(ChatAPIServer(script)) as server:
        ep = make_episode(system="Be careful.", max_tokens=1000)
        play(OpenAIAgent(model="Qwen/Qwen3-8B", max_retries=0, temperature=0.6), ep)

    assert server.problems == []
    assert (ep.status, ep.answer) == ("submitted", "8769")
    assert ep.steps == 3 and ep.tool_calls == 3
    u = ep.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.requests) == (
        200 + 250 - 128 + 300 - 256, 65, 384, 3)

    first, second, _ = server.requests
    assert first["model"] == "Qwen/Qwen3-8B" and first["max_tokens"] == 1000
    assert first["temperature"] == 0.6
    assert first["messages"] == [{"role": "system", "content": "Be careful."},
                                 {"role": "user", "content": PROMPT}]
    fn = first["tools"][0]
    assert fn["type"] == "function" and fn["function"]["name"] == "write_file"
    assert fn["function"]["parameters"]["required"] == ["path", "content"]
    asst = second["messages"][2]
    assert asst["role"] == "assistant" and asst["content"] == "I'll compute it."
    assert asst["tool_calls"][0]["id"] == "call_write"
    assert json.loads(asst["tool_calls"][0]["function"]["arguments"])["path"] == "calc.py"
    (res,) = tool_messages(second)
    assert res["tool_call_id"] == "call_write" and "wrote" in res["content"]
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    assert [e["stop_reason"] for e in events(ep, "model_reply")] == ["tool_calls"] * 3
    assert [e["tool"] for e in events(ep, "tool_call")] == ["write_file", "run_python", "submit_answer"]


def test_local_server_without_key_sends_empty_and_model_is_discovered(env, make_episode):
    with env(ChatAPIServer([submit()], model="served-model"), key=None) as server:
        ep = make_episode()
        play(get_agent("openai", max_retries=0), ep)
    assert ep.status == "submitted"
    assert server.headers[-1]["authorization"] == "Bearer EMPTY"
    assert server.requests[0]["model"] == "served-model"


def test_no_configuration(env, make_episode):
    with pytest.raises(AgentError, match="OPENAI_API_KEY.*OPENAI_BASE_URL"):
        play(OpenAIAgent(model="m"), make_episode())


def test_rate_limit_then_success(env, make_episode):
    with env(ChatAPIServer([rate_limited(), submit()])) as server:
        ep = make_episode()
        play(OpenAIAgent(model="m", max_retries=2), ep)
    assert len(server.requests) == 2 and ep.status == "submitted"


def test_repeated_server_errors_raise_agent_error(env, make_episode):
    with env(ChatAPIServer([server_error()] * 5)) as server:
        ep = make_episode()
        with pytest.raises(AgentError, match="500 server_error.*2 retries"):
            play(OpenAIAgent(model="m", max_retries=2), ep)
    assert len(server.requests) == 3
    assert events(ep, "error")[0]["status_code"] == 500


def test_bad_request_is_not_retried(env, make_episode):
    with env(ChatAPIServer([error(400, "BadRequestError", "model 'm' does not exist")] * 3)) as server:
        with pytest.raises(AgentError, match="400.*does not exist"):
            play(OpenAIAgent(model="m", max_retries=2), make_episode())
    assert len(server.requests) == 1


def test_length_cut_off_asks_to_continue(env, make_episode):
    def after_cut(body):
        tool_msg, note = body["messages"][-2:]
        assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_cut"
        assert "cut off" in tool_msg["content"]
        assert note["role"] == "user" and "max_tokens" in note["content"]
        return submit()

    script = [completion(tool_call("write_file", '{"path": "big.py", "content": "x = ', id="call_cut"),
                         finish_reason="length"),
              after_cut]
    with env(ChatAPIServer(script)) as server:
        ep = make_episode()
        play(OpenAIAgent(model="m", max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"
    assert not (ep.workspace / "big.py").exists()


def test_invalid_json_arguments_come_back_as_tool_error(env, make_episode):
    def check(body):
        bad, missing, not_obj = tool_messages(body)
        assert bad["content"].startswith("error: the arguments are not valid JSON")
        assert "missing required input 'content'" in missing["content"]
        assert "JSON object" in not_obj["content"]
        return submit()

    script = [completion(tool_call("write_file", '{"path": "a.py", "content": '),
                         tool_call("write_file", {"path": "a.py"}),
                         tool_call("run_python", '["calc.py"]')),
              check]
    with env(ChatAPIServer(script)) as server:
        ep = make_episode()
        play(OpenAIAgent(model="m", max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"
    assert all(e["is_error"] for e in events(ep, "tool_call")[:3])


def test_stop_without_submission(env, make_episode):
    with env(ChatAPIServer([completion("The answer is 8769.")])):
        ep = make_episode()
        play(OpenAIAgent(model="m", max_retries=0), ep)
    assert ep.status == "no_submission"


def test_tool_calls_reported_with_finish_reason_stop_still_run(env, make_episode):
    with env(ChatAPIServer([completion(tool_call("submit_answer", {"answer": "7"}), finish_reason="stop")])):
        ep = make_episode()
        play(OpenAIAgent(model="m", max_retries=0), ep)
    assert (ep.status, ep.answer) == ("submitted", "7")


def test_refusal_and_content_filter(env, make_episode):
    with env(ChatAPIServer([completion(refusal="I can't help with that."),
                            completion("", finish_reason="content_filter")])):
        a, b = make_episode(), make_episode()
        play(OpenAIAgent(model="m", max_retries=0), a)
        play(OpenAIAgent(model="m", max_retries=0), b)
    assert (a.status, b.status) == ("refusal", "refusal")


def test_step_budget(env, make_episode):
    with env(ChatAPIServer(lambda body: completion(tool_call("write_file", {"path": "x", "content": "y"})))) as server:
        ep = make_episode(max_steps=2)
        play(OpenAIAgent(model="m", max_retries=0), ep)
    assert server.problems == []
    assert ep.status == "max_steps" and len(server.requests) == 2
