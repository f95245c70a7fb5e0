"""Pure statistics: pass rates, Wilson intervals, band verdicts."""
from __future__ import annotations

import math

VERDICTS = ("in_band", "too_hard", "too_easy", "not_measured", "partial", "inconclusive")


def wilson(passed: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def verdict(passed: int, failed: int, band: tuple[float, float], min_runs: int) -> str:
    """in_band / too_hard / too_easy on the point estimate; not_measured below min_runs."""
    n = passed + failed
    if n < min_runs or n == 0:
        return "not_measured"
    rate = passed / n
    lo, hi = band
    if rate < lo:
        return "too_hard"
    if rate > hi:
        return "too_easy"
    return "in_band"


def pass_at_k(passed: int, n: int, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Unbiased pass@k (Chen et al. 2021: 1 - C(n-c, k) / C(n, k)) for each k <= n."""
    out: dict[str, float] = {}
    for k in ks:
        if k > n:
            continue
        fail_all = math.comb(n - passed, k) / math.comb(n, k) if n - passed >= k else 0.0
        out[str(k)] = round(1.0 - fail_all, 4)
    return out
