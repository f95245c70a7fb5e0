"""A local OpenAI-compatible Chat Completions API (POST /v1/chat/completions, GET /v1/models),
the way vLLM and SGLang serve one, for testing the real ``openai`` SDK.

    with ChatAPIServer([
        completion(tool_call("submit_answer", {"answer": "42"})),
    ]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")

``tool_call`` takes the arguments as a dict (JSON-encoded for you) or as a raw string, so tests can
send invalid JSON the way a weak model does.
"""
from __future__ import annotations

import itertools
import json
import time
from typing import Any

from . import Reply, ScriptedServer

DEFAULT_MODEL = "Qwen/Qwen3-8B"
_ids = itertools.count(1)


def tool_call(name: str, arguments: Any, id: str | None = None) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id or f"call_{next(_ids):06d}", "type": "function", "function": {"name": name, "arguments": args}}


def usage(prompt_tokens: int = 100, completion_tokens: int = 20, cached_tokens: int | None = None) -> dict[str, Any]:
    u: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached_tokens is not None:
        u["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    return u


_usage = usage


def completion(
    *items: dict[str, Any] | str,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    refusal: str | None = None,
) -> dict[str, Any]:
    """A chat.completion. Strings are the message text, dicts tool calls; finish_reason by content."""
    text = "".join(i for i in items if isinstance(i, str)) or None
    calls = [i for i in items if isinstance(i, dict)]
    if finish_reason is None:
        finish_reason = "tool_calls" if calls else "stop"
    msg: dict[str, Any] = {"role": "assistant", "content": text, "refusal": refusal}
    if calls:
        msg["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": msg, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage if usage is not None else _usage(),
    }


def error(status: int, type: str, msg: str, headers: dict[str, str] | None = None) -> Reply:
    """The OpenAI error body: {"error": {"message", "type", "param", "code"}}."""
    return Reply({"error": {"message": msg, "type": type, "param": None, "code": None}},
                 status=status, headers=headers or {})


def _retry_headers(retry_after: float) -> dict[str, str]:
    return {"retry-after": str(int(retry_after)), "retry-after-ms": str(int(retry_after * 1000))}


def rate_limited(retry_after: float = 0.001) -> Reply:
    return error(429, "rate_limit_exceeded", "Rate limit reached", _retry_headers(retry_after))


def server_error(retry_after: float = 0.001) -> Reply:
    return error(500, "server_error", "The server had an error while processing your request.",
                 _retry_headers(retry_after))


# -- reading requests ------------------------------------------------------------------------
def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The role "tool" messages after the request's last assistant message."""
    out: list[dict[str, Any]] = []
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "assistant":
            break
        if m.get("role") == "tool":
            out.append(m)
    return out[::-1]


def validate_request(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str):
        return "model: field required"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "messages: at least one message is required"
    pending: list[str] = []
    for i, m in enumerate(msgs):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}].role: invalid role {role!r}"
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                return (f"messages[{i}]: messages with role 'tool' must be a response to a preceeding "
                        f"message with 'tool_calls' (tool_call_id {m.get('tool_call_id')!r})")
            pending.remove(m["tool_call_id"])
            continue
        if pending:
            return (f"messages[{i}]: an assistant message with 'tool_calls' must be followed by tool "
                    f"messages responding to each 'tool_call_id'. Missing: {', '.join(pending)}")
        if role == "assistant":
            calls = m.get("tool_calls") or []
            if m.get("content") is None and not calls:
                return f"messages[{i}]: assistant message needs content or tool_calls"
            for c in calls:
                if not isinstance((c.get("function") or {}).get("arguments"), str):
                    return f"messages[{i}].tool_calls: function.arguments must be a string"
            pending = [c["id"] for c in calls]
    for t in body.get("tools") or []:
        fn = t.get("function") or {}
        if t.get("type") != "function" or not isinstance(fn.get("name"), str):
            return "tools: each tool is {'type': 'function', 'function': {'name', 'parameters'}}"
        if (fn.get("parameters") or {}).get("type") != "object":
            return f"tools: {fn.get('name')}: parameters must be a JSON Schema object"
    return None


class ChatAPIServer(ScriptedServer):
    """POST /v1/chat/completions and GET /v1/models; see the module docstring."""

    path = "/v1/chat/completions"

    def __init__(self, script=None, model: str = DEFAULT_MODEL) -> None:
        super().__init__(script)
        self.model = model

    def validate(self, body: dict[str, Any]) -> str | None:
        return validate_request(body)

    def auth_problem(self, headers: dict[str, str]) -> str | None:
        if not headers.get("authorization", "").startswith("Bearer "):
            return "missing bearer token"
        return None

    def error_reply(self, status: int, message: str, kind: str) -> Reply:
        return error(status, kind, message)

    def get(self, path: str) -> Reply:
        if path.split("?")[0] == "/v1/models":
            return Reply({"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "vllm"}]})
        return super().get(path)
