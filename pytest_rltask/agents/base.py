"""The Agent interface and its registry."""
from __future__ import annotations

import abc
import importlib
from typing import Any, Callable, ClassVar

from ..episode import Episode


class AgentError(RuntimeError):
    """The backend broke (API unreachable after retries, bad configuration): a run *error*."""


class Agent(abc.ABC):
    """Drives one Episode to its end. Implementations must not catch harness errors as failures."""

    name: ClassVar[str]

    @abc.abstractmethod
    async def run(self, episode: Episode) -> None:
        """Play until ``episode.done`` (submitted, ended turn, refusal) or the step budget is spent."""

    async def aclose(self) -> None:
        """Release clients."""


_REGISTRY: dict[str, str | Callable[..., Agent]] = {
    "anthropic": "pytest_rltask.agents.anthropic:AnthropicAgent",
    "openai": "pytest_rltask.agents.openai:OpenAIAgent",
    "replay": "pytest_rltask.agents.replay:ReplayAgent",
}


def register(name: str, factory: Callable[..., Agent]) -> None:
    """Add a backend: ``factory(**options)`` returns an Agent."""
    _REGISTRY[name] = factory


def names() -> list[str]:
    return sorted(_REGISTRY)


def get_agent(name: str, **options: Any) -> Agent:
    """Build a backend lazily (so ``import anthropic`` is paid only where it is used)."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise AgentError(f"unknown agent {name!r}; known: {', '.join(names())}") from None
    if isinstance(target, str):
        mod, _, attr = target.partition(":")
        target = getattr(importlib.import_module(mod), attr)
    return target(**options)
