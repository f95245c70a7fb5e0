"""Run the deterministic checks of tasks/literature_review on a draft review.

    python tasks/literature_review/check_review.py review.md --topic memory [--verbose]

Prints what the grader measured and the first failing check (exit 1), or "deterministic part:
passed" (exit 0). The judge part is not run here.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import literature_review_checks as checks  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("review", type=Path)
    ap.add_argument("--topic", choices=checks.TOPIC_ORDER, required=True)
    ap.add_argument("--verbose", action="store_true", help="list every checked number")
    a = ap.parse_args(argv)
    ins = checks.inspect(a.review.read_text(encoding="utf-8"), a.topic)
    print(json.dumps(ins.summary(), indent=1))
    if a.verbose:
        for c in ins.numbers:
            print(f"{'ok ' if c.ok else 'BAD'} {c.number:>10}  {', '.join(c.papers)}  | {c.sentence[:100]}")
    verdict = checks.decide(ins)
    if verdict is None:
        print("deterministic part: passed")
        return 0
    print(f"deterministic part: FAILED [{verdict[0]}] {verdict[1]}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
