"""Options, their ini twins, and one resolved Settings object (CLI > marker > ini > default)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import pytest

# name, type-parser, default, help. Each becomes --rl-NAME and ini key rl_NAME.
GROUP = "rltask"


def _nonneg_float(flag: str) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            v = float(raw)
        except (TypeError, ValueError):
            v = -1.0
        if not v >= 0:
            raise pytest.UsageError(f"{flag} takes a number >= 0 (USD), e.g. {flag}=5; got {raw!r}")
        return v

    return parse


def _positive_int(what: str) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            val = int(str(raw).strip())
        except ValueError:
            raise pytest.UsageError(f"{what} takes a whole number >= 1, e.g. {what} 10; got {raw!r}") from None
        if val < 1:
            raise pytest.UsageError(f"{what} takes a whole number >= 1, e.g. {what} 10; got {raw!r}")
        return val

    return parse


def parse_band(raw: Any, what: str = "--rl-band") -> tuple[float, float]:
    """'0.1,0.4' or a (lo, hi) pair -> (lo, hi) with 0 <= lo <= hi <= 1."""
    hint = f"{what} takes two fractions LOW,HIGH with 0 <= LOW <= HIGH <= 1, e.g. {what} 0.10,0.40"
    if isinstance(raw, (tuple, list)):
        parts = list(raw)
    else:
        parts = str(raw).replace(" ", "").split(",")
    if len(parts) != 2:
        raise pytest.UsageError(f"{hint}; got {raw!r}")
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{hint}; got {raw!r}") from None
    if not (0.0 <= lo <= hi <= 1.0):
        hint += " (fractions, not percentages)" if hi > 1 else ""
        raise pytest.UsageError(f"{hint}; got {raw!r}")
    return (lo, hi)


def _agent(raw: str) -> str:
    from .agents.base import names

    if raw not in names():
        raise pytest.UsageError(f"--rl-agent takes one of {', '.join(names())}; got {raw!r}")
    return raw


def _isolation(raw: str) -> str:
    known = ("auto", "bubblewrap", "unshare", "docker", "none")
    if raw not in known:
        raise pytest.UsageError(f"--rl-isolation takes one of {', '.join(known)}; got {raw!r}")
    return raw


def _judge(raw: str) -> str:
    from .judge import names

    if raw not in names():
        raise pytest.UsageError(f"--rl-judge takes one of {', '.join(names())}; got {raw!r}")
    return raw


def _str(raw: str) -> str:
    return str(raw)


def _on_off(raw: str) -> bool:
    val = str(raw).strip().lower()
    if val not in ("on", "off"):
        raise pytest.UsageError(f"--rl-early-stop takes on or off; got {raw!r}")
    return val == "on"


def _confidence(raw: str) -> float:
    hint = "--rl-confidence takes a level LEVEL with 0.5 <= LEVEL < 1, e.g. --rl-confidence 0.9"
    try:
        val = float(str(raw).strip())
    except ValueError:
        raise pytest.UsageError(f"{hint}; got {raw!r}") from None
    if not 0.5 <= val < 1.0:
        raise pytest.UsageError(f"{hint}{' (a fraction, not a percentage)' if val >= 1 else ''}; got {raw!r}")
    return val


OPTIONS: list[tuple[str, Callable[[str], Any], str | None, str]] = [
    ("runs", _positive_int("--rl-runs"), "10", "rollouts per task: items [run-1] ... [run-N] (default 10)"),
    ("band", parse_band, "0.10,0.40", "pass-rate band LOW,HIGH as fractions, inclusive (default 0.10,0.40)"),
    ("agent", _agent, "anthropic", "agent backend: anthropic, openai (OpenAI-compatible endpoint) or replay (default anthropic)"),
    ("model", _str, "claude-haiku-4-5", "model id for the live backends (default claude-haiku-4-5)"),
    ("replay", _str, None, "trajectory file or directory for --rl-agent replay; run i plays file i mod count (default: the task's solutions/)"),
    ("report", _str, None, "write the JSON pass-rate report to this path"),
    ("transcripts", _str, ".rltask", "directory for per-run JSONL transcripts (default .rltask)"),
    ("min_runs", _positive_int("--rl-min-runs"), "10", "fewer completed (passed+failed) runs than this gives verdict not_measured (default 10)"),
    ("isolation", _isolation, "auto", "sandbox: auto (bubblewrap, rootless for a non-root user; else unshare), bubblewrap, unshare, docker (needs --rl-image), or none (no isolation: explicit opt-in only) (default auto)"),
    ("image", _str, None, "docker image for --rl-isolation docker (python -m pytest_rltask.sandbox.docker build TAG makes one from this host)"),
    ("max_retries", _positive_int("--rl-max-retries"), "4", "API retries (429/529/5xx) before a run is an error (default 4)"),
    ("judge", _judge, "anthropic", "LLM judge for graders that use the judge fixture: anthropic, openai (OpenAI-compatible endpoint) or none (default anthropic)"),
    ("early_stop", _on_off, None, "on or off: skip a task's remaining runs once its verdict is decided (default: on for live agents, off for replay)"),
    ("confidence", _confidence, None, "LEVEL (e.g. 0.9): decide each band verdict by a sequential test with error rate at most 1-LEVEL, playing at most --rl-runs runs (default: off, the fixed N-run gate)"),
    ("resume", _str, None, "directory of earlier transcripts: re-grade each run recorded there as passed/failed, play the missing or errored ones"),
    ("judge_model", _str, "claude-sonnet-5-5", "model id for the judge (default claude-sonnet-5-5; with --rl-judge openai the server's first model unless given)"),
    ("concurrency", _positive_int("--rl-concurrency"), "64", "rollouts in flight at once per process, on one event loop; model requests adapt to rate limits, code runs on free cores (default 64)"),
    ("html", _str, None, "write a self-contained HTML report (plot, tasks, runs, transcript viewer) to this path"),
    ("markdown", _str, None, "write a Markdown summary to this path (also appended to $GITHUB_STEP_SUMMARY when set)"),
    ("prices", _str, None, "JSON file of model prices in USD per million tokens {model: {input, output, cache_read, cache_write}}, over the built-in table"),
    ("max_cost", _nonneg_float("--rl-max-cost"), None, "stop starting rollouts once the session has spent this many USD (runs not played fail the gate)"),
]


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "pytest-rltask: RL tasks as tests")
    for name, _, default, help in OPTIONS:
        flag = "--rl-" + name.replace("_", "-")
        group.addoption(flag, dest=f"rl_{name}", default=None, metavar=name.upper(), help=help)
        parser.addini(f"rl_{name}", help=help, default=None)


@dataclasses.dataclass(frozen=True)
class Settings:
    runs: int
    band: tuple[float, float]
    agent: str
    model: str
    replay: Path | None
    report: Path | None
    transcripts: Path
    min_runs: int
    isolation: str
    max_retries: int
    isolation_explicit: bool  # the user asked for this isolation by name
    cli_given: frozenset[str] = frozenset()  # options given on the command line (they beat markers)
    model_explicit: bool = False  # --rl-model / rl_model given (else openai asks the server)
    judge: str = "anthropic"
    judge_model: str = "claude-sonnet-5-5"
    judge_model_explicit: bool = False
    concurrency: int = 64
    html: Path | None = None
    markdown: Path | None = None
    prices: Path | None = None
    max_cost: float | None = None
    early_stop: bool | None = None  # None: on for live agents, off for replay
    confidence: float | None = None
    resume: Path | None = None

    @property
    def stops_early(self) -> bool:
        """Whether decided runs are skipped: asked for, or by default for a live agent."""
        if self.early_stop is not None:
            return self.early_stop
        return self.agent in ("anthropic", "openai")
    image: str | None = None  # docker image (--rl-image)

    def judge_model_for(self, backend: str) -> str | None:
        """The judge's model id; an OpenAI-compatible server picks its own unless told."""
        if backend == "openai" and not self.judge_model_explicit:
            return None
        return self.judge_model if backend != "none" else None

    def model_for(self, agent: str) -> str | None:
        """The model id for a backend; an OpenAI-compatible server picks its own unless told."""
        if agent == "openai" and not self.model_explicit:
            return None
        return self.model if agent in ("anthropic", "openai") else None

    def for_task(self, marker: pytest.Mark | None) -> TaskSettings:
        kw = dict(marker.kwargs) if marker else {}
        return TaskSettings.from_marker(self, kw)


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """A task's effective runs/band/min_runs: CLI > rltask marker > ini > default."""

    runs: int
    band: tuple[float, float]
    min_runs: int
    overrides: dict[str, Any]

    MARKER_KEYS = ("task", "runs", "band", "min_runs", "max_steps", "time_limit", "max_tokens")

    @classmethod
    def from_marker(cls, s: Settings, kw: dict[str, Any]) -> TaskSettings:
        unknown = set(kw) - set(cls.MARKER_KEYS)
        if unknown:
            raise pytest.UsageError(
                f"rltask marker: unknown keyword(s) {sorted(unknown)}; known: {', '.join(cls.MARKER_KEYS)}"
            )
        cli = s.cli_given
        runs = s.runs if "runs" in cli or "runs" not in kw else _positive_int("rltask(runs=...)")(kw["runs"])
        band = s.band if "band" in cli or "band" not in kw else parse_band(kw["band"], "rltask(band=...)")
        min_runs = (
            s.min_runs
            if "min_runs" in cli or "min_runs" not in kw
            else _positive_int("rltask(min_runs=...)")(kw["min_runs"])
        )
        for key in ("max_steps", "max_tokens"):
            if key in kw:
                _positive_int(f"rltask({key}=...)")(kw[key])
        if "time_limit" in kw:
            try:
                ok = float(kw["time_limit"]) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise pytest.UsageError(f"rltask(time_limit=...) takes seconds > 0; got {kw['time_limit']!r}")
        return cls(runs, band, min_runs, kw)


def resolve(config: pytest.Config) -> Settings:
    """Read every option once; bad values raise pytest.UsageError saying what to write."""
    values: dict[str, Any] = {}
    cli_given: set[str] = set()
    for name, parse, default, _ in OPTIONS:
        raw = config.getoption(f"rl_{name}")
        if raw is not None:
            cli_given.add(name)
        else:
            raw = config.getini(f"rl_{name}")
            if raw in (None, "", []):
                raw = default
        values[name] = parse(raw) if raw is not None else None
    base = config.invocation_params.dir
    replay = Path(base, values["replay"]) if values["replay"] else None
    if replay is not None and not replay.exists():
        raise pytest.UsageError(f"--rl-replay: {replay} does not exist; give a trajectory file or a directory of them")
    resume = Path(base, values["resume"]) if values["resume"] else None
    if resume is not None and not resume.is_dir():
        raise pytest.UsageError(f"--rl-resume: {resume} is not a directory; give the --rl-transcripts directory of the earlier session")
    transcripts = Path(base, values["transcripts"])
    for flag, read in (("--rl-replay", replay), ("--rl-resume", resume)):
        if read is not None and _overlap(read, transcripts):
            raise pytest.UsageError(
                f"{flag} {read} and --rl-transcripts {transcripts} overlap: a re-grade would write over the "
                f"transcripts it reads; give it its own, e.g. --rl-transcripts {transcripts.name}-regrade"
            )
    s = Settings(
        runs=values["runs"],
        band=values["band"],
        agent=values["agent"],
        model=values["model"],
        replay=replay,
        report=Path(base, values["report"]) if values["report"] else None,
        transcripts=transcripts,
        min_runs=values["min_runs"],
        isolation=values["isolation"],
        max_retries=values["max_retries"],
        isolation_explicit="isolation" in cli_given or bool(config.getini("rl_isolation")),
        cli_given=frozenset(cli_given),
        model_explicit="model" in cli_given or bool(config.getini("rl_model")),
        judge=values["judge"],
        judge_model=values["judge_model"],
        judge_model_explicit="judge_model" in cli_given or bool(config.getini("rl_judge_model")),
        concurrency=values["concurrency"],
        html=Path(base, values["html"]) if values["html"] else None,
        markdown=Path(base, values["markdown"]) if values["markdown"] else None,
        prices=Path(base, values["prices"]) if values["prices"] else None,
        max_cost=values["max_cost"],
        early_stop=values["early_stop"],
        confidence=values["confidence"],
        resume=resume,
        image=values["image"],
    )
    if s.prices is not None:
        from .cost import PriceTable

        try:
            PriceTable.load(s.prices)
        except ValueError as e:
            raise pytest.UsageError(f"--rl-prices: {e}") from None
    return s



def _overlap(read: Path, write: Path) -> bool:
    """True when files under ``write`` could be files under ``read`` (either contains the other)."""
    a, b = read.resolve(), write.resolve()
    return a == b or b in a.parents or a in b.parents
