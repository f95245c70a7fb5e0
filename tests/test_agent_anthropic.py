"""The anthropic backend, through the real ``anthropic`` SDK, against a local Messages API."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from pytest_rltask import sandbox, tools
from pytest_rltask.agents import AgentError, get_agent
from pytest_rltask.agents.anthropic import AnthropicAgent
from pytest_rltask.episode import Episode
from pytest_rltask.transcript import Transcript

try:
    from tests.servers import Reply
    from tests.servers.messages_api import (
        MessagesAPIServer, error, last_user, message, overloaded, rate_limited, result_text,
        server_error, text, tool_results, tool_use, usage,
    )
except ImportError:  # tests/ not a package: pytest put tests/ itself on sys.path
    from servers import Reply
    from servers.messages_api import (
        MessagesAPIServer, error, last_user, message, overloaded, rate_limited, result_text,
        server_error, text, tool_results, tool_use, usage,
    )

pytestmark = pytest.mark.offline

PROMPT = "Compute (2^10 + 3^5) * 7 - 100 with Python and submit the number."
CREDENTIAL_VARS = (
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR",
    "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_FEDERATION_RULE_ID",
    "ANTHROPIC_ORGANIZATION_ID", "ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS",
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean credential environment with a fake key; returns a function to point at a server."""
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")

    servers = []

    def use(server):
        servers.append(server.start())
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
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


def submit(answer="8769", id=None):
    return message(tool_use("submit_answer", {"answer": answer}, id=id))


# -- a full rollout ----------------------------------------------------------------------------
def test_full_rollout_to_submission(env, make_episode):
    def answer_from_output(body):
        (res,) = tool_results(body)
        assert res["tool_use_id"] == "toolu_run" and not res.get("is_error")
        out = result_text(res)
        assert "exit code: 0" in out
        number = out.split("stdout:\n")[1].split()[0]
        return message(text("The result is " + number), tool_use("submit_answer", {"answer": number}),
                       usage=usage(30, 12, cache_read_input_tokens=900, cache_creation_input_tokens=40))

    script = [
        message(text("I'll compute it."),
                tool_use("write_file", {"path": "calc.py", "content": "print((2**10 + 3**5) * 7 - 100)\n"},
                         id="toolu_write"),
                usage=usage(1000, 50, cache_read_input_tokens=0, cache_creation_input_tokens=900)),
        message(tool_use("run_python", {"path": "calc.py"}, id="toolu_run"),
                usage=usage(20, 10, cache_read_input_tokens=900, cache_creation_input_tokens=60)),
        answer_from_output,
    ]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode(system="You are a careful engineer.", max_tokens=2048)
        play(AnthropicAgent(model="claude-haiku-4-5", max_retries=0), ep)

    assert server.problems == []
    assert (ep.status, ep.answer) == ("submitted", "8769")
    assert (ep.workspace / "calc.py").read_text() == "print((2**10 + 3**5) * 7 - 100)\n"
    assert ep.steps == 3 and ep.tool_calls == 3
    u = ep.usage
    assert (u.input_tokens, u.output_tokens, u.requests) == (1050, 72, 3)
    assert (u.cache_read_input_tokens, u.cache_creation_input_tokens) == (1800, 1000)

    first, second, third = server.requests
    assert first["model"] == "claude-haiku-4-5" and first["max_tokens"] == 2048
    assert [t["name"] for t in first["tools"]] == ["write_file", "run_python", "submit_answer"]
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in t for t in first["tools"][:-1])
    assert first["tools"][0]["input_schema"]["required"] == ["path", "content"]
    assert first["system"] == [{"type": "text", "text": "You are a careful engineer.",
                                "cache_control": {"type": "ephemeral"}}]
    assert first["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": PROMPT, "cache_control": {"type": "ephemeral"}}]}]
    assert "temperature" not in first
    # the assistant turn goes back as returned, the tool result answers its tool_use id
    assert second["messages"][1]["role"] == "assistant"
    assert [b["type"] for b in second["messages"][1]["content"]] == ["text", "tool_use"]
    (res,) = tool_results(second)
    assert res["tool_use_id"] == "toolu_write" and "is_error" not in res
    assert "wrote" in result_text(res)
    # one moving cache breakpoint on the newest user block (plus tools and system): at most 4
    assert second["messages"][2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in second["messages"][0]["content"][-1]
    assert len(third["messages"]) == 5
    hdr = server.headers[0]
    # this SDK sends the key as a bearer token (older ones used x-api-key)
    assert "sk-ant-test-key" in (hdr.get("x-api-key") or hdr.get("authorization", ""))
    assert hdr["anthropic-version"]

    replies = events(ep, "model_reply")
    assert [r["stop_reason"] for r in replies] == ["tool_use", "tool_use", "tool_use"]
    assert replies[0]["usage"]["cache_creation_input_tokens"] == 900
    assert replies[0]["content"][1]["name"] == "write_file"
    assert [e["text"] for e in events(ep, "assistant_text")] == ["I'll compute it.", "The result is 8769"]
    assert [e["tool"] for e in events(ep, "tool_call")] == ["write_file", "run_python", "submit_answer"]
    assert events(ep, "end")[-1]["status"] == "submitted"


def test_registry_builds_the_backend(env):
    agent = get_agent("anthropic", model="claude-sonnet-4-5", max_retries=1, unknown_option=True)
    assert isinstance(agent, AnthropicAgent) and agent.model == "claude-sonnet-4-5"


def test_temperature_is_sent(env, make_episode):
    with env(MessagesAPIServer([submit()])) as server:
        play(AnthropicAgent(temperature=0.7, max_retries=0), make_episode())
    assert server.requests[0]["temperature"] == 0.7
    assert "system" not in server.requests[0]


def test_several_tool_calls_answered_in_one_message(env, make_episode):
    script = [
        message(tool_use("write_file", {"path": "a.txt", "content": "A"}, id="t1"),
                tool_use("write_file", {"path": "b.txt", "content": "B"}, id="t2")),
        lambda body: submit() if [r["tool_use_id"] for r in tool_results(body)] == ["t1", "t2"]
        else error(400, "invalid_request_error", "wrong results"),
    ]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"
    assert len(server.requests[1]["messages"]) == 3


def test_calls_after_submit_in_the_same_reply_are_not_run(env, make_episode):
    script = [message(tool_use("submit_answer", {"answer": "1"}, id="s"),
                      tool_use("write_file", {"path": "late.txt", "content": "x"}, id="w"))]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert (ep.status, ep.answer) == ("submitted", "1")
    assert not (ep.workspace / "late.txt").exists()
    assert len(server.requests) == 1
    late = events(ep, "tool_call")[-1]
    assert late["tool"] == "write_file" and late["is_error"]


# -- retries and API errors --------------------------------------------------------------------
def test_rate_limit_then_success(env, make_episode):
    with env(MessagesAPIServer([rate_limited(), submit()])) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=2), ep)
    assert len(server.requests) == 2
    assert server.headers[1].get("x-stainless-retry-count") == "1"
    assert (ep.status, ep.answer) == ("submitted", "8769")
    assert ep.usage.requests == 1
    assert not events(ep, "error")


def test_overloaded_then_success(env, make_episode):
    with env(MessagesAPIServer([overloaded(), overloaded(), submit()])) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=2), ep)
    assert len(server.requests) == 3
    assert ep.status == "submitted"


def test_repeated_server_errors_raise_agent_error(env, make_episode):
    with env(MessagesAPIServer([server_error()] * 5)) as server:
        ep = make_episode()
        with pytest.raises(AgentError) as exc:
            play(AnthropicAgent(max_retries=2), ep)
    assert len(server.requests) == 3  # the first try and max_retries retries
    msg = str(exc.value)
    assert "500" in msg and "api_error" in msg and "Internal server error" in msg and "2 retries" in msg
    (err,) = events(ep, "error")
    assert err["status_code"] == 500 and err["error_type"] == "api_error"
    assert ep.status == "running"  # not a model failure: the harness reports an error


def test_unauthorized_is_not_retried_and_says_how_to_configure(env, make_episode):
    with env(MessagesAPIServer([error(401, "authentication_error", "invalid x-api-key")] * 3)) as server:
        with pytest.raises(AgentError, match="401.*invalid x-api-key.*ANTHROPIC_API_KEY"):
            play(AnthropicAgent(max_retries=3), make_episode())
    assert len(server.requests) == 1


def test_unreachable_api_raises_agent_error(env, make_episode, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    ep = make_episode()
    with pytest.raises(AgentError, match="connection failed"):
        play(AnthropicAgent(max_retries=0), ep)
    assert events(ep, "error")[0]["error_type"] == "APIConnectionError"


def test_timeout_raises_agent_error(env, make_episode):
    with env(MessagesAPIServer([Reply(submit(), delay=1.0)])):
        with pytest.raises(AgentError, match="timed out"):
            play(AnthropicAgent(max_retries=0, request_timeout=0.2), make_episode())


def test_no_api_key(env, make_episode, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(AgentError) as exc:
        play(AnthropicAgent(), make_episode())
    assert "ANTHROPIC_API_KEY" in str(exc.value) and "--rl-agent replay" in str(exc.value)
    with pytest.raises(AgentError, match="ANTHROPIC_API_KEY"):
        AnthropicAgent().ensure_ready()


def test_auth_token_is_enough(env, make_episode, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok")
    with env(MessagesAPIServer([submit()])) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert ep.status == "submitted"
    assert server.headers[0]["authorization"] == "Bearer tok"


# -- stop reasons --------------------------------------------------------------------------------
def test_max_tokens_cut_off_asks_to_continue(env, make_episode):
    def after_cut(body):
        res, note = last_user(body)
        assert res["type"] == "tool_result" and res["tool_use_id"] == "toolu_cut" and res["is_error"]
        assert "cut off" in result_text(res)
        assert note["type"] == "text" and "max_tokens" in note["text"] and "512" in note["text"]
        return message(tool_use("write_file", {"path": "big.py", "content": "x = 1\n"}))

    script = [
        message(text("Writing a long file"), tool_use("write_file", {"path": "big.py"}, id="toolu_cut"),
                stop_reason="max_tokens"),
        after_cut,
        submit(),
    ]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode(max_tokens=512)
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == []
    assert ep.status == "submitted" and ep.steps == 3
    assert (ep.workspace / "big.py").read_text() == "x = 1\n"
    # the cut-off call was not run
    assert [e["tool"] for e in events(ep, "tool_call")] == ["write_file", "submit_answer"]


def test_max_tokens_text_only_reply(env, make_episode):
    script = [message(text("Let me think about this at leng"), stop_reason="max_tokens"), submit()]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"
    assert "max_tokens" in last_user(server.requests[1])[0]["text"]


def test_malformed_tool_input_comes_back_as_tool_error(env, make_episode):
    def check(body):
        missing, not_obj, unknown = tool_results(body)
        assert missing["is_error"] and "missing required input 'content'" in result_text(missing)
        assert not_obj["is_error"] and "JSON object" in result_text(not_obj)
        assert unknown["is_error"] and "unknown tool 'delete_everything'" in result_text(unknown)
        return submit()

    script = [
        message(tool_use("write_file", {"path": "a.py"}),
                tool_use("run_python", "calc.py"),
                tool_use("delete_everything", {})),
        check,
    ]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == []
    assert ep.status == "submitted" and len(server.requests) == 2


def test_end_turn_without_submission(env, make_episode):
    with env(MessagesAPIServer([message("The answer is 8769.")])) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert ep.status == "no_submission" and ep.answer is None
    assert len(server.requests) == 1


def test_stop_sequence_and_context_window_are_no_submission(env, make_episode):
    for stop in ("stop_sequence", "model_context_window_exceeded"):
        with env(MessagesAPIServer([message("partial", stop_reason=stop)])):
            ep = make_episode()
            play(AnthropicAgent(max_retries=0), ep)
        assert ep.status == "no_submission"
        assert events(ep, "model_reply")[0]["stop_reason"] == stop


def test_refusal(env, make_episode):
    with env(MessagesAPIServer([message(stop_reason="refusal")])):
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert ep.status == "refusal"


def test_pause_turn_continues(env, make_episode):
    script = [message(text("Still working"), stop_reason="pause_turn"), submit()]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"
    last = server.requests[1]["messages"][-1]
    assert last["role"] == "assistant" and last["content"][0]["text"] == "Still working"


def test_step_budget(env, make_episode):
    def forever(body):
        return message(tool_use("write_file", {"path": "loop.txt", "content": "again"}))

    with env(MessagesAPIServer(forever)) as server:
        ep = make_episode(max_steps=3)
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == []
    assert ep.status == "max_steps" and ep.steps == 3
    assert len(server.requests) == 3
    # every request the API saw stayed within 4 cache breakpoints (the server checks it)


def test_empty_text_blocks_are_not_sent_back(env, make_episode):
    script = [message(text(""), tool_use("write_file", {"path": "a", "content": "b"})), submit()]
    with env(MessagesAPIServer(script)) as server:
        ep = make_episode()
        play(AnthropicAgent(max_retries=0), ep)
    assert server.problems == [] and ep.status == "submitted"


# -- concurrency -------------------------------------------------------------------------------
def test_rollouts_run_concurrently_in_one_loop(env, make_episode):
    """Eight rollouts of two 0.3 s model turns each share one client: about 0.6 s, not 4.8 s."""
    def model(body):
        if tool_results(body):
            return Reply(submit(), delay=0.3)
        return Reply(message(tool_use("write_file", {"path": "x.txt", "content": "1"})), delay=0.3)

    with env(MessagesAPIServer(model)) as server:
        eps = [make_episode() for _ in range(8)]
        t0 = time.monotonic()
        play(AnthropicAgent(max_retries=0), *eps)
        wall = time.monotonic() - t0
    assert [ep.status for ep in eps] == ["submitted"] * 8
    assert len(server.requests) == 16 and server.problems == []
    assert wall < 3.0, wall


def test_a_new_event_loop_gets_a_new_client(env, make_episode):
    agent = AnthropicAgent(max_retries=0)
    with env(MessagesAPIServer([submit(), submit()])):
        eps = [make_episode(), make_episode()]
        asyncio.run(agent.run(eps[0]))  # no aclose: the worker reuses the agent
        asyncio.run(agent.run(eps[1]))
    assert [ep.status for ep in eps] == ["submitted", "submitted"]
