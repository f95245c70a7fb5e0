"""The OpenAI-compatible judge (OpenAI, vLLM, SGLang...): one Chat Completions request with the
verdict function forced, temperature 0. ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` as for the agent;
with no model given, the first model the server lists is used.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .base import Exchange, JudgeBackend
from .errors import JudgeError

CONFIGURE = ("set OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible server), or choose another "
             "backend with --rl-judge")


class OpenAIJudge(JudgeBackend):
    name = "openai"

    def __init__(self, model: str | None = None, max_retries: int = 4, request_timeout: float = 600.0,
                 client: Any = None, base_url: str | None = None, **_ignored: Any) -> None:
        self.model = model
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.base_url = base_url
        self._client = client

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        import openai

        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = os.environ.get("OPENAI_API_KEY") or ("EMPTY" if base_url else None)
        if not api_key:
            raise JudgeError(f"no OpenAI credentials for the judge: {CONFIGURE}")
        try:
            self._client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=self.max_retries,
                                         timeout=self.request_timeout)
        except openai.OpenAIError as e:
            raise JudgeError(f"cannot configure the OpenAI client for the judge: {e}; {CONFIGURE}") from e
        return self._client

    def exchange(self, system: str, user: str, tool: dict[str, Any], max_tokens: int) -> Exchange:
        import openai

        client = self._get_client()
        try:
            if not self.model:
                ids = [m.id for m in client.models.list().data]
                if not ids:
                    raise JudgeError("judge: the server lists no models; pass --rl-judge-model")
                self.model = ids[0]
            param = "max_completion_tokens" if "api.openai.com" in str(client.base_url) else "max_tokens"
            request = {
                "model": self.model,
                param: max_tokens,
                "temperature": 0,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                "tools": [{"type": "function", "function": {
                    "name": tool["name"], "description": tool["description"], "parameters": tool["input_schema"]}}],
                "tool_choice": {"type": "function", "function": {"name": tool["name"]}},
            }
            resp = client.chat.completions.create(**request)
        except openai.APIStatusError as e:
            raise JudgeError(f"judge: OpenAI API error {e.status_code} ({self.max_retries} retries): {e.message}") from e
        except openai.APIConnectionError as e:
            raise JudgeError(f"judge: OpenAI API unreachable at {client.base_url} "
                             f"(after {self.max_retries} retries): {e}") from e
        except openai.OpenAIError as e:
            raise JudgeError(f"judge: OpenAI client error: {e}") from e
        response = resp.model_dump(mode="json", exclude_unset=True, warnings=False)
        u = resp.usage
        usage = {"input_tokens": getattr(u, "prompt_tokens", 0) or 0, "output_tokens": getattr(u, "completion_tokens", 0) or 0}
        if not resp.choices:
            raise JudgeError("judge: the server returned no choices")
        choice = resp.choices[0]
        if choice.finish_reason == "length":
            raise JudgeError(f"judge: the verdict was cut off at {max_tokens} tokens")
        calls = [c for c in (choice.message.tool_calls or []) if c.function.name == tool["name"]]
        if len(calls) != 1:
            raise JudgeError(f"judge: expected one {tool['name']} call, got {len(calls)} (finish: {choice.finish_reason})")
        try:
            args = json.loads(calls[0].function.arguments)
        except (TypeError, json.JSONDecodeError) as e:
            raise JudgeError(f"judge: the verdict arguments are not JSON: {e}") from e
        return Exchange(tool_input=args, request=request, response=response, model=resp.model or self.model, usage=usage)
