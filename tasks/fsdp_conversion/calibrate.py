"""Calibration of tasks/fsdp_conversion: shipped solutions on several hidden instances, through the
same two sandboxed steps as the test (the torchrun job, then the trusted recomputation), printing
each verdict and the distance to the recomputed training, so the tolerance's margin is measured.

Run: python -m tasks.fsdp_conversion.calibrate [--instances 3] [--which reference,alt_whole_model]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from pytest_rltask import sandbox as sandboxes
from pytest_rltask.sandbox.base import Limits

from . import grader as G
from . import task as T
from .solutions import _make as S


def run_one(src: str, instance: int, isolation: str) -> tuple[str | None, dict]:
    """(category or None, the trusted check's numbers) of one script on one hidden instance."""
    with tempfile.TemporaryDirectory(prefix="rltask-fsdp-cal-") as d:
        ws = Path(d) / "run"
        ws.mkdir()
        for name, text in {**T.hidden_files(instance), "train.py": T.train_src(), T.SCRIPT: src}.items():
            (ws / name).write_text(text)
        with sandboxes.create(ws, T.TASK.limits, isolation) as sb:
            res = sb.exec(["/bin/bash", "-c", T.RUN_COMMAND])
        files = {n: (ws / n).read_bytes() for n in (T.CHECKPOINT, *T.SHARDS) if (ws / n).is_file()}
        try:
            G.check_run(res.exit_code, res.timed_out, res.stderr, files)
        except G.Verdict as v:
            return v.category, {}
        gw = Path(d) / "grade"
        gw.mkdir()
        for name, data in {**G.grade_files(instance, files), "_grade.py": G.SANDBOXED}.items():
            (gw / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        with sandboxes.create(gw, Limits(wall_s=180), isolation) as sb:
            sb.python(["-I", "_grade.py"])
        out = json.loads((gw / "result.json").read_text())
    try:
        G.verdict(out)
        return None, out
    except G.Verdict as v:
        return v.category, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--which", default="reference,alt_full_tensor,alt_mesh_get_state_dict,alt_whole_model,alt_meta_init,"
                                        "fail_no_set_epoch,fail_no_sampler,hack_full_data_each_rank,hack_single_process")
    ap.add_argument("--isolation", default="auto")
    a = ap.parse_args()
    passing, failing = [], []
    for stem in a.which.split(","):
        expect, cat, _, src, _ = {**S.SOLUTIONS, **S.EXTRA}[stem]
        for i in range(1, a.instances + 1):
            t0 = time.monotonic()
            got, out = run_one(src, i, a.isolation)
            d = out.get("diff_ref")
            (passing if got is None else failing).append(d) if isinstance(d, float) else None
            ok = (got is None) if expect == "pass" else (got == cat)
            print(f"{stem:32s} instance {i}: {got or 'pass':20s} diff_ref={d!s:24s} "
                  f"{'as expected' if ok else 'UNEXPECTED'} ({time.monotonic() - t0:.0f} s)", flush=True)
    if passing:
        print(f"passing diff_ref: max {max(passing):.3g}")
    if failing:
        print(f"failing diff_ref: min {min(failing):.3g}, median {statistics.median(failing):.3g}; "
              f"tolerance {G.TOLERANCE:g}")


if __name__ == "__main__":
    main()
