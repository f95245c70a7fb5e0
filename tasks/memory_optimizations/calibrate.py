"""Peak memory, distance and held-out quality of the shipped scripts over hidden instances.

    python -m tasks.memory_optimizations.calibrate [--instances 1,2,4] [--only reference,alt_sdpa_accumulate]

Each script runs as the test runs it: ``python train.py`` in a fresh sandbox (same backend and
limits as ``Rollout.run``) over the instance's hidden config.json / data.npz / init.npz, with the
peak taken by the sandbox's witness; the baseline and its 0-step floor run the same way. The
verdict is grader.judge, as in the test. Run it alone on the machine: peaks do not depend on load,
times do.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pytest_rltask import sandbox
from pytest_rltask.task import give_tree

from . import grader
from .solutions import _make as S
from .task import BASELINE, N_EVAL, RUN_LIMITS, hidden_config, instance_data, run_files

SCRIPTS = {
    "reference": S.REFERENCE, "alt_sdpa_accumulate": S.ALT_SDPA_ACCUMULATE,
    "alt_chunked_attention": S.ALT_CHUNKED_ATTENTION, "alt_checkpoint_microbatch": S.ALT_CHECKPOINT_MICROBATCH,
    "fail_cuda_autocast": S.FAIL_CUDA_AUTOCAST, "fail_checkpoint_only": S.FAIL_CHECKPOINT_ONLY,
    "hack_dummy_api": S.HACK_DUMMY_API, "hack_subsample_batch": S.HACK_SUBSAMPLE_BATCH,
}


def run(script: str, files: dict[str, bytes]) -> tuple[int | None, int | None, bytes | None, float]:
    """(exit code, peak bytes, weights.npz, seconds) of python train.py in a fresh sandbox."""
    ws = Path(tempfile.mkdtemp(prefix="memopt-cal-"))
    try:
        for name, blob in {**files, "train.py": script.encode()}.items():
            (ws / name).write_bytes(blob)
        sb = sandbox.create(ws, RUN_LIMITS, "auto")
        give_tree(ws, getattr(sb, "owner", None))
        with sb:
            t0 = time.monotonic()
            res = sb.exec([sb.python_executable(), "train.py"])
        w = ws / "weights.npz"
        return res.exit_code, res.peak_rss, (w.read_bytes() if w.is_file() else None), time.monotonic() - t0
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", default="1,2,4")
    ap.add_argument("--only", default=",".join(SCRIPTS))
    a = ap.parse_args()
    mb = 2**20
    print("| instance | batch | script | peak MB | saving | distance | worst part | CE | acc | verdict | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for inst in [int(i) for i in a.instances.split(",")]:
        cfg = hidden_config(inst)
        X, y, init, Xe, ye = instance_data(cfg, inst, "hidden", N_EVAL)
        files = run_files(cfg, X, y, init)
        code, peak, wb, secs = run(BASELINE, files)
        _, floor, _, fsecs = run(BASELINE, dict(files, **{"config.json": json.dumps(dict(cfg, steps=0)).encode()}))
        ref = grader.parse_weights(wb, cfg)
        base = {"peak": peak, "floor": floor, "weights": ref,
                "eval": grader.eval_scores(grader.forward(ref, cfg, Xe), ye)}
        print(f"| {inst} | {cfg['batch']} | baseline | {peak / mb:.0f} | 1.00 | 0 | 0 | {base['eval'][0]:.3f} | "
              f"{base['eval'][1]:.3f} | (floor {floor / mb:.0f} MB) | {secs:.0f} |", flush=True)
        for name in a.only.split(","):
            code, p, w, secs = run(SCRIPTS[name], files)
            try:
                if code != 0 or w is None:
                    raise grader.Verdict("script_error", f"exit {code}")
                s = grader.judge(w, p, base, cfg, init, Xe, ye)
                verdict = "pass"
            except grader.Verdict as v:
                verdict, s = v.category, {}
            d = grader.distances(grader.parse_weights(w, cfg), ref, init, cfg) if w and verdict != "bad_weights" else (float("nan"), {"-": float("nan")})
            ce, acc = (grader.eval_scores(grader.forward(grader.parse_weights(w, cfg), cfg, Xe), ye)
                       if w and verdict not in ("bad_weights", "broken_training") else (float("nan"),) * 2)
            sv = grader.saving(p, peak, floor) if p else float("nan")
            print(f"| {inst} | {cfg['batch']} | {name} | {(p or 0) / mb:.0f} | {sv:.2f} | {d[0]:.3f} | "
                  f"{max(d[1].values()):.3f} | {ce:.3f} | {acc:.3f} | {verdict} | {secs:.0f} |", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
