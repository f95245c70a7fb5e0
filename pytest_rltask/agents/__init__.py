"""Agent backends. Each drives an Episode; ``get_agent(name)`` builds one from settings."""
from __future__ import annotations

from .base import Agent, AgentError, get_agent, register

__all__ = ["Agent", "AgentError", "get_agent", "register"]
