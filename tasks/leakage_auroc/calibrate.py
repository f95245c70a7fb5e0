"""Score distribution of the shipped leakage_auroc solutions over seeds 1..10.

Run from the repository root:  python tasks/leakage_auroc/calibrate.py [--seeds 10] [--jobs 2] [names...]
Each solution script (solutions/_make.py) runs in a fresh temporary workspace holding only
train.csv and test.csv (plain subprocess: these are our own scripts, not agent code); its
predictions.csv is then judged exactly as the grader does. Prints AUROC mean ± sd, min, max and
the pass count at the threshold, or the failure categories for format failures.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import leakage_auroc_data as data  # noqa: E402
import leakage_auroc_grading as grading  # noqa: E402

spec = importlib.util.spec_from_file_location("leakage_auroc_make", HERE / "solutions" / "_make.py")
make = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make)

DEFAULT = ["reference", "alt_oof_target_encoding", "alt_spline_logistic", "alt_random_forest",
           "fail_naive_all_columns", "fail_drop_future_only", "hack_copy_peer_rate",
           "hack_copy_store_rate", "hack_constant"]


def run_one(name: str, seed: int) -> tuple[str, int, object]:
    script = make.SOLUTIONS[name][3]
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        data.write_workspace(ws, seed)
        (ws / "solve.py").write_text(script)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1", "HOME": d}
        subprocess.run([sys.executable, "-I", "solve.py"], cwd=ws, env=env, capture_output=True, timeout=600)
        p = ws / "predictions.csv"
        if not p.is_file():
            return name, seed, "no_artifact"
        _, test, _, y = data.generate(seed)
        try:
            probs = grading.parse_predictions(p.read_bytes(), test["customer_id"].tolist())
        except grading.BadPredictions:
            return name, seed, "bad_predictions"
        return name, seed, grading.auroc(probs, y)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("names", nargs="*", default=DEFAULT)
    a = ap.parse_args()
    t0 = time.time()
    res: dict[str, list] = {n: [] for n in a.names}
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        futs = [ex.submit(run_one, n, s) for n in a.names for s in range(1, a.seeds + 1)]
        for f in cf.as_completed(futs):
            n, s, r = f.result()
            res[n].append(r)
    print(f"threshold: AUROC >= {grading.THRESHOLD}; seeds 1..{a.seeds}; {time.time() - t0:.0f} s")
    print(f"{'solution':28s} {'expect':7s} {'AUROC mean ± sd':17s} {'min':>6s} {'max':>6s}  pass")
    for n in a.names:
        nums = [r for r in res[n] if isinstance(r, float)]
        other = [r for r in res[n] if not isinstance(r, float)]
        expect = make.SOLUTIONS[n][0]
        if nums:
            v = np.array(nums)
            passed = int((v >= grading.THRESHOLD).sum())
            line = f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}   {v.min():6.3f} {v.max():6.3f}  {passed}/{len(res[n])}"
        else:
            line = f"{'-':17s} {'':6s} {'':6s}  0/{len(res[n])}"
        if other:
            line += "  " + ", ".join(f"{c}:{other.count(c)}" for c in sorted(set(other)))
        print(f"{n:28s} {expect:7s} {line}")


if __name__ == "__main__":
    main()
