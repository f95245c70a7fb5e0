"""What runs cost in money: a price table per model and the cost of a token count.

Prices are USD per million tokens, as Anthropic's pricing and model pages list them (checked
2026-12-04; 5-minute cache writes). Prices change: give your own with ``--rl-prices FILE`` (JSON
``{"model-id": {"input": 1.0, "output": 5.0, "cache_read": 0.1, "cache_write": 1.25}}``), which
extends and overrides this table. A model with no price gets no cost, and the report says so: a
guessed price would be a number nobody measured.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def of(self, tokens: Mapping[str, int], prefix: str = "") -> float:
        """The cost of a token count in the report's ``tokens`` shape (``judge_`` keys with a prefix)."""
        def n(key: str) -> int:
            return int(tokens.get(prefix + key, 0) or 0)

        return (n("input_tokens") * self.input + n("output_tokens") * self.output
                + n("cache_read_input_tokens") * self.cache_read
                + n("cache_creation_input_tokens") * self.cache_write) / 1e6


PRICES: dict[str, Price] = {
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30, 3.75),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50, 6.25),
    "claude-sonnet-5": Price(2.00, 10.00, 0.20, 2.50),
    "claude-sonnet-5-5": Price(2.00, 10.00, 0.20, 2.50),
    "claude-opus-5": Price(5.00, 25.00, 0.50, 6.25),
}

_DATE_SUFFIX = re.compile(r"-(\d{8}|latest)$")


class PriceTable:
    """Looks models up by id, with or without a date suffix (``claude-haiku-4-5-20251001``)."""

    def __init__(self, extra: Mapping[str, Price] | None = None) -> None:
        self.prices = {**PRICES, **(extra or {})}

    @classmethod
    def load(cls, path: Path | None) -> PriceTable:
        """The built-in table extended by a JSON file; ValueError with the reason when it is malformed."""
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read prices from {path}: {e}") from e
        if not isinstance(data, dict):
            raise ValueError(f"{path}: prices are an object of model id -> {{input, output, cache_read, cache_write}}")
        extra = {}
        for model, p in data.items():
            try:
                extra[model] = Price(**{k: float(p[k]) for k in ("input", "output", "cache_read", "cache_write")})
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}: model {model!r} needs numeric input, output, cache_read and "
                                 f"cache_write (USD per million tokens): {e}") from e
        return cls(extra)

    def get(self, model: str | None) -> Price | None:
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        base = _DATE_SUFFIX.sub("", model)
        return self.prices.get(base)

    def cost(self, tokens: Mapping[str, Any], model: str | None, judge_model: str | None = None) -> float | None:
        """USD for a run's tokens: the agent's at ``model``, the judge's at ``judge_model``.

        None when a model that used tokens has no price (never a guess).
        """
        total = 0.0
        for prefix, m in (("", model), ("judge_", judge_model)):
            used = any(int(tokens.get(prefix + k, 0) or 0) for k in
                       ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
            if not used:
                continue
            price = self.get(m)
            if price is None:
                return None
            total += price.of(tokens, prefix)
        return round(total, 6)


def recorded_tokens(transcript: str | None) -> dict[str, Any]:
    """The tokens a recorded live run used, when ``transcript`` replayed one (its meta's ``source``).

    A dry run with replayed recordings spends nothing, but the recordings know what the live run
    spent: that is the honest estimate of a live run's cost. Empty when nothing was recorded.
    """
    from .transcript import read_events

    if not transcript:
        return {}
    try:
        meta = next(read_events(transcript), {})
    except OSError:
        return {}
    source = meta.get("source")
    if not source or not str(source).endswith(".jsonl"):
        return {}
    totals: dict[str, Any] = {}
    try:
        for ev in read_events(source):
            if ev.get("type") == "meta" and ev.get("model"):
                totals["_model"] = ev["model"]
            if ev.get("type") == "model_reply":
                for k, v in (ev.get("usage") or {}).items():
                    if isinstance(v, int) and k.endswith("tokens"):
                        totals[k] = totals.get(k, 0) + v
    except OSError:
        return {}
    return totals if any(k != "_model" for k in totals) else {}
