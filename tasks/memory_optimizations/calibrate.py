"""Calibration of tasks/memory_optimizations: the reference vs a naive attempt over seeds 1..10.

    python tasks/memory_optimizations/calibrate.py                      # reference vs naive
    python tasks/memory_optimizations/calibrate.py --solutions reference,alt_six_decorator --seeds 1-3

For every seed it grades the unmodified baseline, then each solution's final train.py, exactly as
the test does (grade_memopt.py with python -I in a fresh temp dir holding train.py, tracer.py,
data.npz and X_eval.npy; no sandbox: these are our own scripts), and prints per solution: the
pass count, held-out cross-entropy and accuracy (mean ± sd), techniques observed (mean ± sd) and
the failure categories. "Naive" = fail_cuda_autocast: the most common failure of the original
write-up (a CUDA autocast on a CPU machine) on top of five real techniques.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import memopt_lib as lib  # noqa: E402

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
       "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def script_of(solution: str) -> str:
    traj = json.loads((HERE / "solutions" / f"{solution}.json").read_text())
    return [s for s in traj["steps"] if s["tool"] == "write_file" and s["input"]["path"] == "train.py"][-1][
        "input"]["content"]


def grade(text: str, seed: int) -> dict:
    Xtr, ytr, Xe, _ = lib.make_data(seed)
    with tempfile.TemporaryDirectory(prefix="memopt-cal-") as d:
        d = Path(d)
        (d / "train.py").write_text(text)
        (d / "tracer.py").write_text(lib.TRACER)
        (d / "_grade.py").write_text(lib.GRADER)
        (d / "data.npz").write_bytes(lib.npz_bytes(X=Xtr, y=ytr))
        (d / "X_eval.npy").write_bytes(lib.npy_bytes(Xe))
        subprocess.run([sys.executable, "-I", "_grade.py", str(lib.STEPS), str(seed), "300"], cwd=d, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        return json.loads((d / "result.json").read_text())


def fmt(xs):
    if not xs:
        return "n/a"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} ± {sd:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--solutions", default="reference,fail_cuda_autocast")
    ap.add_argument("--seeds", default="1-10")
    a = ap.parse_args()
    lo, _, hi = a.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    sols = a.solutions.split(",")
    rows = {s: [] for s in ["baseline", *sols]}
    t0 = time.monotonic()
    for seed in seeds:
        _, _, _, ye = lib.make_data(seed)
        base = grade(lib.BASELINE, seed)
        bce, bacc = lib.eval_scores(lib._logits(base["run"], len(ye)), ye)
        rows["baseline"].append({"cat": None, "ce": bce, "acc": bacc,
                                 "n": sum(lib.techniques(base["run"]["intervals"]).values())})
        for s in sols:
            res = grade(script_of(s), seed)
            row = {"cat": None}
            try:
                sc = lib.judge(base, res, ye)
                row.update(ce=sc["eval_ce"], acc=sc["eval_acc"], n=sc["n_techniques"])
            except lib.Verdict as v:
                row["cat"] = v.category
                rec = res.get("run") or {}
                if rec.get("ok") is True:
                    try:
                        row["ce"], row["acc"] = lib.eval_scores(lib._logits(rec, len(ye)), ye)
                    except lib.Verdict:
                        pass
                    row["n"] = sum(lib.techniques(rec.get("intervals")).values())
            rows[s].append(row)
        print(f"seed {seed} done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"seeds {seeds[0]}..{seeds[-1]}, {lib.STEPS} steps; pass = correct training (ce <= "
          f"{lib.CE_FACTOR} x baseline + {lib.CE_SLACK}, acc >= baseline - {lib.ACC_DROP}) and >= "
          f"{lib.MIN_TECHNIQUES} techniques")
    for s, rs in rows.items():
        passed = sum(r["cat"] is None for r in rs)
        cats = Counter(r["cat"] for r in rs if r["cat"])
        print(f"{s:28s} pass {passed}/{len(rs)}  ce {fmt([r['ce'] for r in rs if 'ce' in r])}  "
              f"acc {fmt([r['acc'] for r in rs if 'acc' in r])}  techniques "
              f"{fmt([float(r['n']) for r in rs if 'n' in r])}  {dict(cats) if cats else ''}")


if __name__ == "__main__":
    main()
