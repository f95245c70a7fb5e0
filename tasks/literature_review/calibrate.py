"""The deterministic part's figures for every shipped solution (the README's table).

    python -m tasks.literature_review.calibrate

For each solution: what the deterministic part decides, cited papers (sources outside the corpus),
numbers verified / checked, prose words, and the copy measure. There is no hidden instance to
vary: the corpus is fixed and the topic is public.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import grader
from .task import topic_for

HERE = Path(__file__).resolve().parent


def main() -> None:
    print("| solution | expect | deterministic part | cited (outside) | numbers verified / checked | prose words | copied |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((HERE / "solutions").glob("*.json")):
        t = json.loads(path.read_text())
        ins = grader.inspect(t["steps"][-1]["input"]["answer"], topic_for(t["seed"]))
        got = grader.decide(ins)
        want = "pass" if t["expect"] == "pass" else f"fail `{t['category']}`"
        print(f"| `{path.stem}` | {want} | {'goes to the judge' if got is None else f'failed `{got[0]}`'} | "
              f"{len(set(ins.cited))} ({len(ins.unknown)}) | {len(ins.verified)} / {len(ins.numbers)} | "
              f"{ins.prose_words} | {ins.copy_ratio:.0%} |")


if __name__ == "__main__":
    main()
