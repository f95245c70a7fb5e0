"""The OpenAI-compatible backend: Chat Completions with function tools.

Meant for OpenAI-compatible servers (vLLM, SGLang, llama.cpp, ...) as much as for OpenAI itself:
``OPENAI_BASE_URL`` points at the server (e.g. ``http://localhost:8000/v1``); ``OPENAI_API_KEY`` is
its key, and when only a base URL is set the key ``EMPTY`` is sent, which local servers accept.
With ``model=None`` the first model the server lists (``GET /models``) is used.

The loop mirrors the anthropic backend, one request per model turn:

- tool calls (``finish_reason`` ``tool_calls``, or ``stop`` from servers that report it so): each
  runs through ``episode.call`` and is answered by a ``tool`` message; arguments that are not valid
  JSON come back to the model as a tool error. Stop once a call ended the rollout.
- ``length``: the reply was cut off; its tool calls are not run but answered with an error, and a
  note asks the model to continue.
- ``stop`` without tool calls: ``no_submission``. ``content_filter`` or a ``refusal``: ``refusal``.

Usage: ``input_tokens`` is the uncached part of ``prompt_tokens`` and ``cache_read_input_tokens``
``prompt_tokens_details.cached_tokens``, so the fields mean the same as the anthropic backend's.
API failures that survive the SDK's retries raise ``AgentError`` (a run error).
"""
from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from .. import budget
from ..episode import Episode
from .base import Agent, AgentError

CONFIGURE = (
    "set OPENAI_API_KEY, and OPENAI_BASE_URL for an OpenAI-compatible server such as vLLM or "
    "SGLang (e.g. http://localhost:8000/v1; any key works there), or run offline with --rl-agent replay"
)
CUT_OFF_TOOL = (
    "error: your reply was cut off at the max_tokens limit before this tool call was complete, so it "
    "was not run. Send it again; keep tool arguments shorter (e.g. write a large file in parts)."
)
CUT_OFF_NOTE = (
    "Your last reply was cut off because it reached the max_tokens limit ({n} tokens). Continue from "
    "where you stopped, and keep each reply shorter."
)


class OpenAIAgent(Agent):
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        max_retries: int = 4,
        request_timeout: float = 600.0,
        temperature: float | None = None,
        client: Any = None,
        base_url: str | None = None,
        max_tokens_param: str | None = None,
        **_ignored: Any,
    ) -> None:
        self.model = model
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.temperature = temperature
        self.base_url = base_url
        # OpenAI itself wants max_completion_tokens; vLLM/SGLang/llama.cpp all take max_tokens
        self.max_tokens_param = max_tokens_param
        self._given_client = client
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    # -- the client --------------------------------------------------------------------------
    def _get_client(self) -> Any:
        if self._given_client is not None:
            return self._given_client
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._client is not None and self._client_loop is loop:
            return self._client
        try:
            import openai
        except ImportError as e:  # pragma: no cover
            raise AgentError(f"the openai backend needs the 'openai' package: {e}") from e
        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = os.environ.get("OPENAI_API_KEY") or ("EMPTY" if base_url else None)
        if not api_key:
            raise AgentError(f"no OpenAI credentials: {CONFIGURE}")
        try:
            client = openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, max_retries=self.max_retries, timeout=self.request_timeout,
                http_client=openai.DefaultAsyncHttpxClient(event_hooks={"response": [budget.observe]}),
            )
        except openai.OpenAIError as e:
            raise AgentError(f"cannot configure the OpenAI client: {e}; {CONFIGURE}") from e
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
            except Exception:
                pass

    async def _model(self, client: Any, tr: Any) -> str:
        if self.model:
            return self.model
        import openai

        try:
            page = await client.models.list()
        except openai.OpenAIError as e:
            raise _api_error(e, tr, self.max_retries, client) from e
        ids = [m.id for m in page.data]
        if not ids:
            raise AgentError("the server lists no models; pass --rl-model")
        self.model = ids[0]
        return self.model

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, episode: Episode) -> None:
        import openai

        client = self._get_client()
        tr = episode.transcript
        model = await self._model(client, tr)
        param = self.max_tokens_param or (
            "max_completion_tokens" if "api.openai.com" in str(getattr(client, "base_url", "")) else "max_tokens"
        )
        kwargs: dict[str, Any] = {"model": model, param: episode.max_tokens}
        tools = [
            {"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""), "parameters": t["input_schema"]}}
            for t in episode.tool_specs()
        ]
        if tools:
            kwargs["tools"] = tools
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        messages: list[dict[str, Any]] = []
        if episode.system:
            messages.append({"role": "system", "content": episode.system})
        messages.append({"role": "user", "content": episode.prompt})

        while True:
            if not episode.begin_turn():
                break
            try:
                async with budget.request_slot():
                    resp = await client.chat.completions.create(messages=messages, **kwargs)
            except openai.OpenAIError as e:
                raise _api_error(e, tr, self.max_retries, client) from e
            if not resp.choices:
                tr.event("error", source="openai", status_code=None, error_type="no_choices",
                         message="the server answered without choices")
                raise AgentError(f"the OpenAI-compatible server at {client.base_url} answered without choices")
            choice = resp.choices[0]
            msg = choice.message
            u = resp.usage
            if u is not None:
                details = getattr(u, "prompt_tokens_details", None)
                cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
                episode.usage.add(
                    input_tokens=max((u.prompt_tokens or 0) - cached, 0),
                    output_tokens=u.completion_tokens,
                    cache_read_input_tokens=cached,
                )
            episode.usage.add(requests=1)
            calls = [c for c in (msg.tool_calls or []) if getattr(c, "function", None) is not None]
            tr.event(
                "model_reply",
                id=resp.id,
                model=resp.model,
                stop_reason=choice.finish_reason,
                content=_plain(msg),
                usage=_plain(u) if u is not None else None,
            )
            if msg.content:
                tr.event("assistant_text", text=msg.content)

            assistant: dict[str, Any] = {"role": "assistant", "content": msg.content or ""}
            if calls:
                assistant["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.function.name, "arguments": c.function.arguments or ""}}
                    for c in calls
                ]
                if not msg.content:
                    assistant["content"] = None
            messages.append(assistant)

            finish = choice.finish_reason
            if finish == "content_filter" or getattr(msg, "refusal", None):
                episode.finish("refusal")
                break
            if finish == "length":
                for c in calls:
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": CUT_OFF_TOOL})
                tr.event("cut_off", max_tokens=episode.max_tokens, skipped_tool_calls=len(calls))
                messages.append({"role": "user", "content": CUT_OFF_NOTE.format(n=episode.max_tokens)})
                continue
            if calls:
                for c in calls:
                    raw = c.function.arguments
                    try:
                        inp: Any = json.loads(raw) if raw and raw.strip() else {}
                        bad_json = None
                    except json.JSONDecodeError as e:
                        inp, bad_json = raw, e
                    res = await episode.call(c.function.name, inp, c.id)
                    content = res.content
                    if bad_json is not None and not episode.done:
                        content = (f"error: the arguments are not valid JSON ({bad_json}); send the tool's "
                                   f"input as one JSON object")
                    elif res.is_error and not content.lower().startswith("error"):
                        content = "error: " + content
                    messages.append({"role": "tool", "tool_call_id": c.id, "content": content})
                if episode.done:
                    break
                continue
            # stop (no tool calls) or anything unknown
            episode.finish("no_submission")
            break


def _plain(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict(mode="json", warnings=False)
    return obj


def _api_error(e: Exception, tr: Any, max_retries: int, client: Any) -> AgentError:
    import openai

    url = getattr(client, "base_url", None)
    if isinstance(e, openai.APIStatusError):
        body = e.body if isinstance(e.body, dict) else {}
        err = body.get("error", body) if isinstance(body, dict) else {}
        kind = (err.get("type") if isinstance(err, dict) else None) or ""
        detail = (err.get("message") if isinstance(err, dict) else None) or e.message
        tr.event("error", source="openai", status_code=e.status_code, error_type=kind, message=detail,
                 request_id=getattr(e, "request_id", None))
        retried = f" (after {max_retries} retries)" if e.status_code in (408, 409, 429) or e.status_code >= 500 else ""
        hint = f"; {CONFIGURE}" if e.status_code in (401, 403) else ""
        return AgentError(f"OpenAI-compatible API error {e.status_code} {kind}{retried} at {url}: {detail}{hint}")
    if isinstance(e, openai.APIConnectionError):
        what = "timed out" if isinstance(e, openai.APITimeoutError) else "connection failed"
        tr.event("error", source="openai", status_code=None, error_type=type(e).__name__, message=str(e))
        return AgentError(f"OpenAI-compatible API {what} (after {max_retries} retries) at {url}: {e}")
    tr.event("error", source="openai", status_code=None, error_type=type(e).__name__, message=str(e))
    return AgentError(f"OpenAI client error: {e}")
