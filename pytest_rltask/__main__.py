"""``python -m pytest_rltask COMMAND``: tools around a session (calibration, the verdict rules' table)."""
from __future__ import annotations

import argparse
import sys


def operating_table(argv: list[str]) -> int:
    """Print the exact verdict probabilities and mean runs of a rule (the docs' table)."""
    from .sequential import Plan, table
    from .settings import parse_band

    ap = argparse.ArgumentParser(prog="python -m pytest_rltask table", description=operating_table.__doc__)
    ap.add_argument("--band", default="0.10,0.40")
    ap.add_argument("--runs", type=int, default=10, help="N: the runs, the sequential test's maximum")
    ap.add_argument("--min-runs", type=int, default=10)
    ap.add_argument("--confidence", type=float, default=None, help="the sequential test's level (default: fixed rule)")
    ap.add_argument("--rates", default="0,0.02,0.05,0.10,0.25,0.40,0.50,0.60,0.80,1")
    a = ap.parse_args(argv)
    plan = Plan(parse_band(a.band), a.runs, a.min_runs, a.confidence)
    print("\n".join(table(plan, [float(r) for r in a.rates.split(",")])))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"calibrate": None, "table": operating_table}
    if not argv or argv[0] not in commands:
        print("usage: python -m pytest_rltask {calibrate,table} ...  (each takes --help)", file=sys.stderr)
        return 2
    if argv[0] == "calibrate":
        from .calibrate import main as calibrate

        return calibrate(argv[1:])
    return operating_table(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
