"""The deterministic part's figures for every shipped solution (the README's table).

    python -m tasks.idea_proposal.report

(``calibrate.py`` is the threshold calibration from live transcripts; this is the offline table.)
"""
from __future__ import annotations

import json
from pathlib import Path

from . import grader

HERE = Path(__file__).resolve().parent


def main() -> None:
    print("| solution | expect | deterministic part | ideas | cited papers (outside) | verified numbers | copied | "
          "most similar pair |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted((HERE / "solutions").glob("*.json")):
        t = json.loads(path.read_text())
        text = t["steps"][-1]["input"]["answer"]
        got, ins = grader.decide(text), grader.inspect(text)
        want = "pass" if t["expect"] == "pass" else f"fail `{t['category']}`"
        if t.get("decided_by") == "judge":
            want += ", decided by the judge"
        nv = sum(len(i["numbers_verified"]) for i in ins["ideas"])
        print(f"| `{path.stem}` | {want} | {'goes to the judge' if got is None else f'failed `{got[0]}`'} | "
              f"{len(ins['ideas'])} | {len(ins['cited_papers'])} ({len(ins['unknown_citations'])}) | {nv} | "
              f"{ins['copy_ratio']:.0%} | {ins['max_overlap']:.0%} |")


if __name__ == "__main__":
    main()
