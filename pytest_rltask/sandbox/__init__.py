"""Sandboxes: where agent code runs. ``create`` picks the strongest backend this machine has.

``auto`` means bubblewrap (as root with a uid switch, otherwise rootless in a user namespace),
else unshare (root only); never "none" and never docker (that one is chosen by name). When none
works, ``detect`` says "none" and ``why_none`` gives every backend's own reason: callers that run
agent code must refuse then, unless the user asked for ``--rl-isolation none``.
"""
from __future__ import annotations

from pathlib import Path

from .base import ExecResult, Limits, Sandbox, SandboxError
from . import none as _none  # noqa: F401  (registers "none")

__all__ = ["ExecResult", "Limits", "Sandbox", "SandboxError", "create", "detect", "why_none", "refusal"]

PREFERENCE = ("bubblewrap", "unshare")


def _load_backends() -> None:
    for mod in ("bwrap", "unshare", "docker"):
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


def why_none(isolation: str = "auto") -> dict[str, str]:
    """For each backend ``isolation`` stands for, why it does not work here (the probe's own words)."""
    _load_backends()
    names = PREFERENCE if isolation == "auto" else (isolation,)
    out = {}
    for name in names:
        cls = Sandbox.registry.get(name)
        why = "not importable" if cls is None else cls.available()
        if why:
            out[name] = why
    return out


def refusal(isolation: str = "auto") -> str | None:
    """None if agent code can run sandboxed with ``isolation`` here, else the message that refuses it:
    every backend's real reason, and the fixes."""
    if isolation == "none" or (isolation == "auto" and detect() != "none"):
        return None
    reasons = why_none(isolation)
    if not reasons:
        return None
    lines = "; ".join(f"{name}: {why}" for name, why in reasons.items())
    if isolation == "auto":
        fix = ("install bubblewrap (apt-get install bubblewrap) and allow user namespaces if the reason above "
               "says they are refused, or use --rl-isolation docker --rl-image IMAGE")
    else:
        fix = f"fix the {isolation} backend as said above, or choose another with --rl-isolation"
    return (f"refusing to run agent-written code without a sandbox ({lines}). Fix: {fix}; to run it unsandboxed "
            "anyway, pass --rl-isolation none explicitly")


def create(workspace: Path, limits: Limits | None = None, isolation: str = "auto", **options) -> Sandbox:
    """A Sandbox over ``workspace``. ``options`` go to the backend (bubblewrap/unshare accept
    ``extra_ro=[host paths]`` to show more host folders read-only at the same path; docker
    ``image=``)."""
    _load_backends()
    name = detect() if isolation == "auto" else isolation
    if isolation == "auto" and name == "none":
        raise SandboxError(refusal("auto") or "no sandbox backend works here")
    cls = Sandbox.registry.get(name)
    if cls is None:
        raise SandboxError(f"unknown isolation {name!r}; known: {sorted(Sandbox.registry)}")
    why = cls.available()
    if why:
        raise SandboxError(f"isolation {name!r} is not available here: {why}")
    return cls(workspace, limits, **options)
