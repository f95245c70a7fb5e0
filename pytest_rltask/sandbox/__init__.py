"""Sandboxes: where agent code runs. ``create`` picks the strongest backend this machine has."""
from __future__ import annotations

from pathlib import Path

from .base import ExecResult, Limits, Sandbox, SandboxError
from . import none as _none  # noqa: F401  (registers "none")

__all__ = ["ExecResult", "Limits", "Sandbox", "SandboxError", "create", "detect"]

PREFERENCE = ("bubblewrap", "unshare")


def _load_backends() -> None:
    for mod in ("bwrap", "unshare"):
        try:
            __import__(f"{__name__}.{mod}")
        except ImportError:
            pass


def detect() -> str:
    """The isolation ``create("auto")`` would use here: 'bubblewrap', 'unshare' or 'none'."""
    _load_backends()
    for name in PREFERENCE:
        cls = Sandbox.registry.get(name)
        if cls is not None and cls.available() is None:
            return name
    return "none"


def create(workspace: Path, limits: Limits | None = None, isolation: str = "auto", **options) -> Sandbox:
    """A Sandbox over ``workspace``. ``options`` go to the backend (bubblewrap/unshare accept
    ``extra_ro=[host paths]`` to show more host folders read-only at the same path)."""
    _load_backends()
    name = detect() if isolation == "auto" else isolation
    cls = Sandbox.registry.get(name)
    if cls is None:
        raise SandboxError(f"unknown isolation {name!r}; known: {sorted(Sandbox.registry)}")
    why = cls.available()
    if why:
        raise SandboxError(f"isolation {name!r} is not available here: {why}")
    return cls(workspace, limits, **options)
