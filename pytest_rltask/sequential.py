"""When a task's band verdict is decided, from its run outcomes in run order.

Two rules, one interface (``Plan.decide``), used by the worker that skips decided runs and by the
controller that reports the verdict, so both agree at any ``-n``:

* the **fixed rule** (default): the mission's gate over N runs. Its verdict is decided early only
  when no outcome of the runs still to play can change it (5 passes of 10 already make 10 runs
  ``too_easy``), so early stopping never changes a verdict.
* the **sequential band test** (``--rl-confidence LEVEL``): two Wald SPRTs, one per band edge, each
  against an alternative at odds ratio 2 *outside* the band (10 % -> 5.3 %, 40 % -> 57.1 %). The
  edges themselves belong to the band (it is inclusive), so a task at exactly 10 % should come out
  ``in_band``. Thresholds log(1/a) and log(b) with a = b = (1 - LEVEL) / 2 bound each test's error by
  Ville's inequality, for any stopping time, so the chance of a wrong verdict is at most 1 - LEVEL at
  every true rate inside the band or beyond an alternative; between an edge and its alternative
  either neighbouring verdict counts as right. Undecided after ``--rl-runs`` runs: ``inconclusive``.

Why SPRT rather than a Bayesian rule: its error bounds hold under optional stopping without a prior,
and it needs close to the fewest runs on average for the error rates it states.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence

from . import stats

ODDS_RATIO = 2.0  # each edge's alternative: the edge's odds divided (lower) or multiplied (upper) by this


def _shift(p: float, ratio: float) -> float:
    """The rate whose odds are ``ratio`` times the odds of ``p``."""
    if p <= 0.0 or p >= 1.0:
        return p
    odds = p / (1.0 - p) * ratio
    return odds / (1.0 + odds)


@dataclasses.dataclass(frozen=True)
class Decision:
    verdict: str | None  # None: not decided by the runs given
    at: int  # runs consumed when it was decided (or all given, if not)
    passed: int  # passes among those runs
    failed: int


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one task's runs are judged: its band, its maximum runs, and the rule."""

    band: tuple[float, float]
    runs: int  # N: the runs collected, the maximum a sequential test may play
    min_runs: int
    confidence: float | None = None  # None: the fixed rule

    @property
    def alternatives(self) -> tuple[float, float]:
        lo, hi = self.band
        return _shift(lo, 1.0 / ODDS_RATIO), _shift(hi, ODDS_RATIO)

    def _thresholds(self) -> tuple[float, float]:
        a = (1.0 - float(self.confidence or 0.0)) / 2.0
        return math.log(1.0 / a), math.log(a)

    def decide(self, outcomes: Iterable[str]) -> Decision:
        """The verdict as soon as these outcomes (in run order: passed/failed/error) settle it."""
        return self._sprt(outcomes) if self.confidence is not None else self._fixed(outcomes)

    def final(self, outcomes: Sequence[str]) -> Decision:
        """The verdict of a task whose runs are all in (played or skipped after a decision)."""
        d = self.decide(outcomes)
        if d.verdict is not None:
            return d
        p, f = outcomes.count("passed"), outcomes.count("failed")
        if self.confidence is not None:
            return Decision("inconclusive", len(outcomes), p, f)
        return Decision(stats.verdict(p, f, self.band, self.min_runs), len(outcomes), p, f)

    # -- the fixed rule -----------------------------------------------------------------------
    def _fixed(self, outcomes: Iterable[str]) -> Decision:
        p = f = k = 0
        for k, o in enumerate(outcomes, 1):
            p += o == "passed"
            f += o == "failed"
            left = max(self.runs - k, 0)
            if p + f + left < self.min_runs:
                continue  # errors already make the task unmeasurable: leave it to the end
            worst = stats.verdict(p, f + left, self.band, self.min_runs)
            if worst != "not_measured" and worst == stats.verdict(p + left, f, self.band, self.min_runs):
                return Decision(worst, k, p, f)
        return Decision(None, k, p, f)

    # -- the sequential band test ---------------------------------------------------------------
    def _steps(self) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
        """Per-run log-likelihood increments (pass, fail) of the lower and upper test."""
        lo, hi = self.band
        alo, ahi = self.alternatives
        lower = (math.log(alo / lo), math.log((1 - alo) / (1 - lo))) if 0.0 < lo < 1.0 else None
        upper = (math.log(ahi / hi), math.log((1 - ahi) / (1 - hi))) if 0.0 < hi < 1.0 else None
        return lower, upper

    def _sprt(self, outcomes: Iterable[str]) -> Decision:
        lower, upper = self._steps()
        state = SprtState(lower, upper, *self._thresholds())
        p = f = k = 0
        for k, o in enumerate(outcomes, 1):
            if k > self.runs:
                k -= 1
                break
            p += o == "passed"
            f += o == "failed"
            v = state.push(o)
            if v is not None:
                return Decision(v, k, p, f)
        return Decision(None, k, p, f)


@dataclasses.dataclass
class SprtState:
    """Both edge tests: log-likelihood sums and which test has accepted 'inside'."""

    lower: tuple[float, float] | None
    upper: tuple[float, float] | None
    accept: float  # log(1/a): the alternative (outside the band) is accepted at or above this
    reject: float  # log(a): the edge (inside the band) is accepted at or below this
    llr_lower: float = 0.0
    llr_upper: float = 0.0
    lower_ok: bool = False
    upper_ok: bool = False

    def __post_init__(self) -> None:
        self.lower_ok = self.lower is None
        self.upper_ok = self.upper is None

    def push(self, outcome: str) -> str | None:
        if outcome not in ("passed", "failed"):
            return None  # an error says nothing about the rate
        i = 0 if outcome == "passed" else 1
        if not self.lower_ok and self.lower is not None:
            self.llr_lower += self.lower[i]
            if self.llr_lower >= self.accept:
                return "too_hard"
            if self.llr_lower <= self.reject:
                self.lower_ok = True
        if not self.upper_ok and self.upper is not None:
            self.llr_upper += self.upper[i]
            if self.llr_upper >= self.accept:
                return "too_easy"
            if self.llr_upper <= self.reject:
                self.upper_ok = True
        return "in_band" if self.lower_ok and self.upper_ok else None


# -- exact operating characteristics (the docs' table, checked by a test) ---------------------------
def operating(plan: Plan, rate: float, early_stop: bool = True) -> dict[str, float]:
    """Exact probabilities of each verdict and the expected runs played at a true pass rate.

    Walks every pass/fail path (no sampling): a path stops when ``plan.decide`` settles it; with
    ``early_stop`` False the fixed rule plays all N runs (its verdict is the same either way).
    """
    probs: dict[str, float] = {}
    expected_runs = 0.0
    # a path's state is its counts (p, f) plus, for the SPRT, which tests accepted the edge; the
    # fixed rule's decision depends on (p, f) only
    frontier: dict[tuple[int, int, bool, bool], float] = {(0, 0, False, False): 1.0}
    lower, upper = plan._steps()
    accept, reject = plan._thresholds() if plan.confidence is not None else (0.0, 0.0)
    for n in range(1, plan.runs + 1):
        nxt: dict[tuple[int, int, bool, bool], float] = {}
        for (p, f, lok, uok), w in frontier.items():
            for outcome, q in (("passed", rate), ("failed", 1.0 - rate)):
                if q == 0.0:
                    continue
                np_, nf = p + (outcome == "passed"), f + (outcome == "failed")
                if plan.confidence is not None:
                    st = SprtState(lower, upper, accept, reject)
                    st.lower_ok, st.upper_ok = lok or lower is None, uok or upper is None
                    st.llr_lower = (np_ - (outcome == "passed")) * (lower[0] if lower else 0) + \
                        (nf - (outcome == "failed")) * (lower[1] if lower else 0)
                    st.llr_upper = (np_ - (outcome == "passed")) * (upper[0] if upper else 0) + \
                        (nf - (outcome == "failed")) * (upper[1] if upper else 0)
                    v = st.push(outcome)
                    key = (np_, nf, st.lower_ok, st.upper_ok)
                else:
                    left = plan.runs - n
                    v = None
                    if early_stop or left == 0:
                        worst = stats.verdict(np_, nf + left, plan.band, plan.min_runs)
                        if worst != "not_measured" and worst == stats.verdict(np_ + left, nf, plan.band, plan.min_runs):
                            v = worst
                        elif left == 0:
                            v = stats.verdict(np_, nf, plan.band, plan.min_runs)
                    key = (np_, nf, False, False)
                if v is not None:
                    probs[v] = probs.get(v, 0.0) + w * q
                    expected_runs += w * q * n
                else:
                    nxt[key] = nxt.get(key, 0.0) + w * q
        frontier = nxt
    rest = sum(frontier.values())
    if rest > 0:
        probs["inconclusive"] = probs.get("inconclusive", 0.0) + rest
        expected_runs += rest * plan.runs
    return {**{k: probs.get(k, 0.0) for k in ("too_hard", "in_band", "too_easy", "inconclusive", "not_measured")},
            "expected_runs": expected_runs}


def right_verdicts(plan: Plan, rate: float) -> set[str]:
    """Verdicts that are right at this true rate (both neighbours between an edge and its alternative)."""
    lo, hi = plan.band
    alo, ahi = plan.alternatives
    if rate < alo:
        return {"too_hard"}
    if rate < lo:
        return {"too_hard", "in_band"}
    if rate <= hi:
        return {"in_band"}
    if rate <= ahi:
        return {"in_band", "too_easy"}
    return {"too_easy"}


def table(plan: Plan, rates: Sequence[float]) -> list[str]:
    """Markdown rows: true rate, P(each verdict), P(wrong), expected runs."""
    rows = ["| true rate | too_hard | in_band | too_easy | inconclusive | wrong | mean runs |",
            "|---|---|---|---|---|---|---|"]
    for r in rates:
        o = operating(plan, r)
        wrong = sum(o[v] for v in ("too_hard", "in_band", "too_easy") if v not in right_verdicts(plan, r))
        rows.append(f"| {r:.2f} | {o['too_hard']:.3f} | {o['in_band']:.3f} | {o['too_easy']:.3f} | "
                    f"{o['inconclusive'] + o['not_measured']:.3f} | {wrong:.3f} | {o['expected_runs']:.1f} |")
    return rows
