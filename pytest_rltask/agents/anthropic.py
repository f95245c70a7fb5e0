"""The Anthropic backend: Claude over the Messages API, with client tools and prompt caching.

The loop, one request per model turn (``episode.begin_turn``):

- ``tool_use``: run every tool_use block through ``episode.call`` (in order) and answer all of them
  with tool_result blocks in one user message; stop once a call ended the rollout (submit_answer).
- ``max_tokens``: the reply was cut off. Tool calls in it are not run (their input may be
  truncated); each gets an error tool_result saying so, and a note asks the model to continue.
- ``pause_turn``: send the conversation back as is, so the model carries on.
- ``end_turn`` / ``stop_sequence`` without a submission: ``no_submission``.
- ``refusal``: ``refusal``. ``model_context_window_exceeded``: ``no_submission``.

API failures that survive the SDK's own retries (429, 529, 5xx, connection errors, with backoff
and ``retry-after``) raise ``AgentError``: a run *error*, never the model's failure.

``anthropic`` is imported on first use only, so loading the plugin never pays for it.
"""
from __future__ import annotations

import asyncio
from typing import Any

from .. import budget
from ..episode import Episode
from .base import Agent, AgentError

CONFIGURE = (
    "set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for a proxy), or run offline with --rl-agent replay"
)
CUT_OFF_TOOL = (
    "error: your reply was cut off at the max_tokens limit before this tool call was complete, so it "
    "was not run. Send it again; keep tool inputs shorter (e.g. write a large file in parts)."
)
CUT_OFF_NOTE = (
    "Your last reply was cut off because it reached the max_tokens limit ({n} tokens). Continue from "
    "where you stopped, and keep each reply shorter."
)
EPHEMERAL = {"type": "ephemeral"}


class AnthropicAgent(Agent):
    name = "anthropic"

    def __init__(
        self,
        model: str = "claude-haiku-4-5",
        max_retries: int = 4,
        request_timeout: float = 600.0,
        temperature: float | None = None,
        client: Any = None,
        **_ignored: Any,
    ) -> None:
        self.model = model or "claude-haiku-4-5"
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.temperature = temperature
        self._given_client = client
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # -- the client --------------------------------------------------------------------------
    def _get_client(self) -> Any:
        """The AsyncAnthropic client, built on first use in this event loop.

        An httpx connection pool belongs to the loop it was first used in; a worker that runs each
        rollout in a fresh ``asyncio.run`` therefore gets a fresh client per loop.
        """
        if self._given_client is not None:
            return self._given_client
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._client is not None and self._client_loop is loop:
            return self._client
        try:
            import anthropic
        except ImportError as e:  # pragma: no cover - a dependency of the package
            raise AgentError(f"the anthropic backend needs the 'anthropic' package: {e}") from e
        try:
            client = anthropic.AsyncAnthropic(
                max_retries=self.max_retries, timeout=self.request_timeout,
                http_client=anthropic.DefaultAsyncHttpxClient(event_hooks={"response": [budget.observe]}),
            )
        except anthropic.AnthropicError as e:  # e.g. a broken ANTHROPIC_PROFILE / config file
            raise AgentError(f"cannot configure the Anthropic client: {e}; {CONFIGURE}") from e
        if client.api_key is None and client.auth_token is None and getattr(client, "credentials", None) is None:
            raise AgentError(f"no Anthropic credentials: {CONFIGURE}")
        self._client, self._client_loop = client, loop
        return client

    def ensure_ready(self) -> None:
        """Raise AgentError now (not at the first request) if the backend is not configured."""
        self._get_client()

    async def aclose(self) -> None:
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            try:
                await client.close()
            except Exception:  # a client of a loop that is gone: nothing left to release
                pass

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, episode: Episode) -> None:
        import anthropic

        client = self._get_client()
        tr = episode.transcript
        tools = [dict(t) for t in episode.tool_specs()]
        if tools:
            tools[-1]["cache_control"] = EPHEMERAL  # caches the tool definitions (and the system)
        kwargs: dict[str, Any] = {"model": self.model, "max_tokens": episode.max_tokens}
        if tools:
            kwargs["tools"] = tools
        if episode.system:
            kwargs["system"] = [{"type": "text", "text": episode.system, "cache_control": EPHEMERAL}]
        if self.temperature is not None:
            # not a keyword of every SDK version's create(); the API takes it in the body
            kwargs["extra_body"] = {"temperature": self.temperature}
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": [{"type": "text", "text": episode.prompt}]}
        ]

        while True:
            if not episode.begin_turn():
                break
            _mark_cache(messages)
            try:
                async with budget.request_slot():
                    msg = await client.messages.create(messages=messages, **kwargs)
            except anthropic.AnthropicError as e:
                raise _api_error(e, tr, self.max_retries, getattr(client, "base_url", None)) from e
            content = [_plain(b) for b in msg.content]
            u = msg.usage
            episode.usage.add(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_read_input_tokens=getattr(u, "cache_read_input_tokens", None),
                cache_creation_input_tokens=getattr(u, "cache_creation_input_tokens", None),
                requests=1,
            )
            tr.event(
                "model_reply",
                id=msg.id,
                model=msg.model,
                stop_reason=msg.stop_reason,
                content=content,
                usage=_plain(u),
            )
            for b in content:
                if b.get("type") == "text" and b.get("text"):
                    tr.event("assistant_text", text=b["text"])

            stop = msg.stop_reason
            kept = [b for b in content if not (b.get("type") == "text" and not (b.get("text") or "").strip())]
            if kept:
                messages.append({"role": "assistant", "content": kept})
            calls = [b for b in kept if b.get("type") == "tool_use"]

            if stop == "refusal":
                episode.finish("refusal")
                break
            if stop == "max_tokens":
                results = [_result(b["id"], CUT_OFF_TOOL, True) for b in calls]
                tr.event("cut_off", max_tokens=episode.max_tokens, skipped_tool_calls=len(calls))
                _add_user(messages, [*results, {"type": "text", "text": CUT_OFF_NOTE.format(n=episode.max_tokens)}])
                continue
            if calls:  # tool_use (or a proxy that reports end_turn with tool calls)
                results = []
                for b in calls:
                    res = await episode.call(b["name"], b.get("input"), b["id"])
                    results.append(_result(b["id"], res.content, res.is_error))
                _add_user(messages, results)
                if episode.done:
                    break
                continue
            if stop == "pause_turn":
                if not kept:  # nothing to continue from: ask again
                    _add_user(messages, [{"type": "text", "text": "Continue."}])
                continue
            # end_turn, stop_sequence, model_context_window_exceeded, or anything unknown
            episode.finish("no_submission")
            break


def _plain(obj: Any) -> dict[str, Any]:
    """An SDK model as the JSON dict the API sent (unset fields left out)."""
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        # warnings=False: a tool_use whose input is not an object is the model's error, reported
        # to it by episode.call, not a serializer warning
        return to_dict(mode="json", warnings=False)
    return obj.model_dump(mode="json", exclude_unset=True, warnings=False)


def _result(tool_use_id: str, content: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id}
    if content:  # the API refuses empty text blocks; an empty tool_result content is fine
        block["content"] = [{"type": "text", "text": content}]
    if is_error:
        block["is_error"] = True
    return block


def _add_user(messages: list[dict[str, Any]], content: list[dict[str, Any]]) -> None:
    """Append a user turn (merged into the last one if that is a user turn too)."""
    if messages and messages[-1]["role"] == "user":
        messages[-1]["content"].extend(content)
    else:
        messages.append({"role": "user", "content": content})


def _mark_cache(messages: list[dict[str, Any]]) -> None:
    """One moving cache breakpoint on the newest user block, so each turn reads the prefix the
    previous turn wrote. With the tools' (and system's) breakpoints that stays within the API's 4."""
    for m in messages:
        if m["role"] == "user":
            for b in m["content"]:
                b.pop("cache_control", None)
    for m in reversed(messages):
        if m["role"] == "user" and m["content"]:
            m["content"][-1]["cache_control"] = EPHEMERAL
            return


def _api_error(e: Exception, tr: Any, max_retries: int, base_url: Any) -> AgentError:
    import anthropic

    if isinstance(e, anthropic.APIStatusError):
        kind = getattr(e, "type", None) or ""
        detail = getattr(e, "api_message", None) or e.message
        tr.event("error", source="anthropic", status_code=e.status_code, error_type=kind, message=detail,
                 request_id=getattr(e, "request_id", None))
        retried = f" (after {max_retries} retries)" if _retryable(e.status_code) else ""
        hint = f"; {CONFIGURE}" if e.status_code in (401, 403) else ""
        return AgentError(f"Anthropic API error {e.status_code} {kind}{retried}: {detail}{hint}")
    if isinstance(e, anthropic.APIConnectionError):
        what = "timed out" if isinstance(e, anthropic.APITimeoutError) else "connection failed"
        tr.event("error", source="anthropic", status_code=None, error_type=type(e).__name__, message=str(e))
        return AgentError(f"Anthropic API {what} (after {max_retries} retries) at {base_url}: {e}")
    tr.event("error", source="anthropic", status_code=None, error_type=type(e).__name__, message=str(e))
    return AgentError(f"Anthropic client error: {e}; {CONFIGURE}")


def _retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500
