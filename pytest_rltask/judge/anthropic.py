"""The Anthropic judge: one Messages API request with the verdict tool forced, temperature 0.

Retries (429, 529, 5xx, connection errors, with ``retry-after``) are the SDK's own; what survives
them is a ``JudgeError``. ``anthropic`` is imported on first use only.
"""
from __future__ import annotations

from typing import Any

from .base import Exchange, JudgeBackend
from .errors import JudgeError

CONFIGURE = ("set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for a proxy), or choose another "
             "backend with --rl-judge")
DEFAULT_MODEL = "claude-sonnet-5-5"


class AnthropicJudge(JudgeBackend):
    name = "anthropic"

    def __init__(self, model: str | None = None, max_retries: int = 4, request_timeout: float = 600.0,
                 client: Any = None, **_ignored: Any) -> None:
        self.model = model or DEFAULT_MODEL
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self._client = client
        self._why: str | None = None

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        import anthropic

        try:
            client = anthropic.Anthropic(max_retries=self.max_retries, timeout=self.request_timeout)
        except anthropic.AnthropicError as e:
            raise JudgeError(f"cannot configure the Anthropic client for the judge: {e}; {CONFIGURE}") from e
        if client.api_key is None and client.auth_token is None and getattr(client, "credentials", None) is None:
            client.close()
            raise JudgeError(f"no Anthropic credentials for the judge: {CONFIGURE}")
        self._client = client
        return client

    def exchange(self, system: str, user: str, tool: dict[str, Any], max_tokens: int) -> Exchange:
        import anthropic

        client = self._get_client()
        request = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
            "tools": [tool],
            "tool_choice": {"type": "tool", "name": tool["name"]},
            "temperature": 0,
        }
        body = {k: v for k, v in request.items() if k != "temperature"}
        try:
            # temperature is not a keyword of every SDK version's create(); the API takes it in the body
            msg = client.messages.create(**body, extra_body={"temperature": 0})
        except anthropic.APIStatusError as e:
            detail = getattr(e, "api_message", None) or e.message
            raise JudgeError(f"judge: Anthropic API error {e.status_code} ({self.max_retries} retries): {detail}") from e
        except anthropic.APIConnectionError as e:
            raise JudgeError(f"judge: Anthropic API unreachable at {client.base_url} "
                             f"(after {self.max_retries} retries): {e}") from e
        except anthropic.AnthropicError as e:
            raise JudgeError(f"judge: Anthropic client error: {e}") from e
        response = msg.to_dict(mode="json", warnings=False)
        u = msg.usage
        usage = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
        if msg.stop_reason == "max_tokens":
            raise JudgeError(f"judge: the verdict was cut off at max_tokens={max_tokens}")
        calls = [b for b in msg.content if b.type == "tool_use" and b.name == tool["name"]]
        if len(calls) != 1:
            raise JudgeError(f"judge: expected one {tool['name']} call, got {len(calls)} (stop: {msg.stop_reason})")
        return Exchange(tool_input=calls[0].input, request=request, response=response, model=msg.model, usage=usage)
