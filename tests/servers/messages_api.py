"""A local Anthropic Messages API (POST /v1/messages) for testing the real ``anthropic`` SDK.

    with MessagesAPIServer([
        message(tool_use("run_python", {"path": "a.py"})),
        message(tool_use("submit_answer", {"answer": "42"})),
    ]) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)

Replies have the API's full shapes (``message``), errors its error JSON (``error``,
``rate_limited``, ``overloaded``, ``server_error``) with the status codes and headers the SDK's
retry logic reads (``retry-after``, ``retry-after-ms``, ``x-should-retry``).
"""
from __future__ import annotations

import itertools
from typing import Any

from . import Reply, ScriptedServer

DEFAULT_MODEL = "claude-haiku-4-5"
_ids = itertools.count(1)


def text(s: str) -> dict[str, Any]:
    return {"type": "text", "text": s, "citations": None}


def tool_use(name: str, input: Any, id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": id or f"toolu_{next(_ids):06d}", "name": name, "input": input}


def usage(
    input_tokens: int = 100,
    output_tokens: int = 20,
    cache_read_input_tokens: int | None = 0,
    cache_creation_input_tokens: int | None = 0,
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_creation": None,
        "server_tool_use": None,
        "service_tier": "standard",
    }


_usage = usage


def message(
    *content: dict[str, Any] | str,
    stop_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
) -> dict[str, Any]:
    """A Message. Strings become text blocks; stop_reason defaults to tool_use/end_turn by content."""
    blocks = [text(c) if isinstance(c, str) else c for c in content]
    if stop_reason is None:
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage if usage is not None else _usage(),
    }


def error(status: int, type: str, msg: str, headers: dict[str, str] | None = None) -> Reply:
    """The API's error body: {"type": "error", "error": {"type", "message"}, "request_id"}."""
    body = {"type": "error", "error": {"type": type, "message": msg}, "request_id": f"req_{next(_ids):06d}"}
    return Reply(body, status=status, headers={"request-id": body["request_id"], **(headers or {})})


def _retry_headers(retry_after: float) -> dict[str, str]:
    # retry-after-ms is what the SDK reads first; retry-after as the real API sends it
    return {"retry-after": str(int(retry_after)), "retry-after-ms": str(int(retry_after * 1000))}


def rate_limited(retry_after: float = 0.001) -> Reply:
    return error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                 _retry_headers(retry_after))


def overloaded(retry_after: float = 0.001) -> Reply:
    return error(529, "overloaded_error", "Overloaded", _retry_headers(retry_after))


def server_error(retry_after: float = 0.001) -> Reply:
    return error(500, "api_error", "Internal server error", _retry_headers(retry_after))


# -- reading requests (for scripted models and assertions) ------------------------------------
def blocks(msg: dict[str, Any]) -> list[dict[str, Any]]:
    c = msg.get("content")
    return [{"type": "text", "text": c}] if isinstance(c, str) else list(c or [])


def last_user(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content blocks of the request's last user message."""
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            return blocks(m)
    return []


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last user message."""
    return [b for b in last_user(body) if b.get("type") == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    c = block.get("content")
    if isinstance(c, list):
        return "".join(b.get("text", "") for b in c)
    return c or ""


def _merged(messages: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Consecutive same-role turns, combined as the API does."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for m in messages:
        if out and out[-1][0] == m.get("role"):
            out[-1][1].extend(blocks(m))
        else:
            out.append((m.get("role"), blocks(m)))
    return out


def validate_request(body: dict[str, Any]) -> str | None:
    """The checks of the real API that an agent loop can get wrong; None if the body is fine."""
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required (a positive integer)"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "messages: at least one message is required"
    for i, m in enumerate(msgs):
        if m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        c = m.get("content")
        if (c is None or c == "" or c == []) and not (i == len(msgs) - 1 and m["role"] == "assistant"):
            return f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        for j, b in enumerate(blocks(m)):
            if b.get("type") == "text" and not (b.get("text") or "").strip():
                return f"messages.{i}.content.{j}: text content blocks must contain non-whitespace text"
    turns = _merged(msgs)
    if turns[0][0] != "user":
        return "messages: first message must use the \"user\" role"
    for k, (role, content) in enumerate(turns):
        if role != "assistant":
            continue
        ids = [b["id"] for b in content if b.get("type") == "tool_use"]
        if not ids or k + 1 >= len(turns):
            continue
        nxt = turns[k + 1][1]
        results = [b.get("tool_use_id") for b in nxt if b.get("type") == "tool_result"]
        missing = [i for i in ids if i not in results]
        if missing:
            return (f"messages.{k + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                    f"`tool_result` block in the next message.")
        first_other = next((n for n, b in enumerate(nxt) if b.get("type") != "tool_result"), len(nxt))
        if any(b.get("type") == "tool_result" for b in nxt[first_other:]):
            return f"messages.{k + 1}: tool_result blocks must come first in the message content"
    for k, (role, content) in enumerate(turns):
        if role != "user":
            continue
        prev = {b.get("id") for b in turns[k - 1][1] if b.get("type") == "tool_use"} if k else set()
        for b in content:
            if b.get("type") == "tool_result" and b.get("tool_use_id") not in prev:
                return (f"messages.{k}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{b.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        f"`tool_use` block in the previous message.")
    for t in body.get("tools") or []:
        if not isinstance(t.get("name"), str) or (t.get("input_schema") or {}).get("type") != "object":
            return f"tools: tool {t.get('name')!r} needs a name and an object input_schema"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        if choice.get("name") not in {t.get("name") for t in body.get("tools") or []}:
            return f"tool_choice: tool {choice.get('name')!r} is not in tools"
    if "temperature" in body and not (isinstance(body["temperature"], (int, float)) and 0 <= body["temperature"] <= 1):
        return "temperature: Input should be less than or equal to 1"
    if count_cache_breakpoints(body) > 4:
        return "A maximum of 4 blocks with cache_control may be provided."
    return None


def count_cache_breakpoints(body: dict[str, Any]) -> int:
    n = sum(1 for t in body.get("tools") or [] if t.get("cache_control"))
    sys_ = body.get("system")
    if isinstance(sys_, list):
        n += sum(1 for b in sys_ if b.get("cache_control"))
    for m in body.get("messages") or []:
        n += sum(1 for b in blocks(m) if b.get("cache_control"))
    return n


class MessagesAPIServer(ScriptedServer):
    """POST /v1/messages, answered from a script; see the module docstring."""

    path = "/v1/messages"

    def validate(self, body: dict[str, Any]) -> str | None:
        return validate_request(body)

    def auth_problem(self, headers: dict[str, str]) -> str | None:
        if not headers.get("x-api-key") and not headers.get("authorization"):
            return "x-api-key header is required"
        if not headers.get("anthropic-version"):
            return "anthropic-version: header is required"
        return None

    def error_reply(self, status: int, message: str, kind: str) -> Reply:
        return error(status, kind, message)
