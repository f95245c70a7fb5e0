"""Calibration of tasks/fsdp_conversion: run the reference and naive attempts through the real
grading script (python -I grade_fsdp.py in a temp folder, no sandbox) on seeds 1..N and print the
pass rate and the checkpoint loss (mean ± sd).

Run: python tasks/fsdp_conversion/calibrate.py [--seeds 10] [--which reference,naive_recursive]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "solutions"))

import fsdp_lib as lib  # noqa: E402
import _make as sols  # noqa: E402

ATTEMPTS = {
    "reference": sols.REFERENCE,
    "naive_recursive": sols.FAIL_RECURSIVE,  # size-based wrap rule on the recursive count
    "naive_optimizer_first": sols.FAIL_OPT_FIRST,  # optimizer kept from the single-process script
}


def grade(src: str, seed: int) -> tuple[str | None, float | None, float]:
    cfg = lib.config(seed, hidden=True)
    with tempfile.TemporaryDirectory(prefix="fsdp-cal-") as d:
        ws = Path(d)
        (ws / lib.SCRIPT).write_text(src)
        (ws / "model.py").write_text(lib.model_src(cfg))
        (ws / "data.py").write_text(lib.data_src())
        for f in ("fsdp_harness.py", "fsdp_ckpt.py", "grade_fsdp.py"):
            (ws / f).write_bytes((HERE / f).read_bytes())
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-I", "grade_fsdp.py"], cwd=ws, capture_output=True, timeout=600)
        secs = time.monotonic() - t0
        res = json.loads((ws / "result.json").read_text())
    loss = res.get("checkpoint", {}).get("loss") if isinstance(res.get("checkpoint"), dict) else None
    try:
        lib.verdict(res, cfg)
        cat = None
    except lib.Verdict as v:
        cat = v.category
    return cat, loss if isinstance(loss, float) else None, secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--which", default="reference,naive_recursive")
    args = ap.parse_args()
    for name in args.which.split(","):
        src = ATTEMPTS[name]
        passes, losses, cats, secs = [], [], {}, []
        for seed in range(1, args.seeds + 1):
            cat, loss, s = grade(src, seed)
            passes.append(1.0 if cat is None else 0.0)
            if loss is not None:
                losses.append(loss)
            cats[cat or "pass"] = cats.get(cat or "pass", 0) + 1
            secs.append(s)
            print(f"  {name} seed {seed}: {cat or 'pass'} loss={loss} limit={lib.loss_limit(lib.config(seed, True)):.3f} ({s:.1f}s)",
                  flush=True)
        sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0  # noqa: E731
        ml = statistics.mean(losses) if losses else math.nan
        print(f"{name}: pass {statistics.mean(passes):.2f} ± {sd(passes):.2f}; checkpoint loss "
              f"{ml:.3f} ± {sd(losses):.3f} (n={len(losses)}); verdicts {cats}; "
              f"grading {statistics.mean(secs):.1f}s per run", flush=True)


if __name__ == "__main__":
    main()
