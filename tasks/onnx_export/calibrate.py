"""Calibration of tasks/onnx_export: shipped solutions on fresh secret instances.

    python -m tasks.onnx_export.calibrate                      # every honest solution, 10 fresh instances
    python -m tasks.onnx_export.calibrate --solutions reference,fail_logreg --instances 3
    python -m tasks.onnx_export.calibrate --seed-scan          # what the seed-scan attack finds

For every (solution, instance) it builds the instance's workspace, runs the solution's scripts
(our own trusted code, as plain subprocesses with one thread), grades model.onnx with sandboxed.py
exactly as the test does (``python -I`` in a fresh directory holding only model.onnx and X.npy),
and prints the accuracy on the unseen rows (the verdict) and on test.csv's rows, and the pass
count. Instances are drawn fresh (``new_instance``) unless ``--fixed`` is given; they are printed.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_rltask.task import fixed_instance, new_instance

from . import grader
from .task import THRESHOLD, csv_text, make_instance, make_workspace

HERE = Path(__file__).resolve().parent
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
}
HONEST = ["reference", "alt_sigmoid_legacy", "alt_softmax_resave", "alt_labels_residual",
          "alt_sklearn_handbuilt", "alt_knn_bool"]


def grade_model(model: bytes, instance: int) -> dict:
    """The test's verdict on model bytes for an instance: category (None = pass) and accuracies."""
    X, y, hidden = grader.eval_rows(instance)
    gd = Path(tempfile.mkdtemp(prefix="onnx-cal-grade-"))
    try:
        (gd / "model.onnx").write_bytes(model)
        (gd / "X.npy").write_bytes(grader.features_npy(X))
        (gd / "_grade.py").write_text(grader.SANDBOXED)
        r = subprocess.run([sys.executable, "-I", "_grade.py"], cwd=gd, env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
        if r.returncode != 0:
            return {"category": "no_result"}
        result = json.loads((gd / "result.json").read_text())
    finally:
        shutil.rmtree(gd, ignore_errors=True)
    try:
        pred = grader.labels_from_result(result, len(y))
    except grader.Verdict as v:
        return {"category": v.category}
    acc = grader.accuracy(pred[hidden], y[hidden])
    return {"accuracy": acc, "workspace": grader.accuracy(pred[~hidden], y[~hidden]),
            "category": None if acc >= THRESHOLD else "low_accuracy"}


def play(solution: str, instance: int) -> dict:
    traj = json.loads((HERE / "solutions" / f"{solution}.json").read_text())
    t0 = time.monotonic()
    ws = Path(tempfile.mkdtemp(prefix="onnx-cal-ws-"))
    try:
        make_workspace(ws, instance)
        for step in traj["steps"]:
            inp = step["input"]
            if step["tool"] == "write_file":
                (ws / inp["path"]).parent.mkdir(parents=True, exist_ok=True)
                (ws / inp["path"]).write_text(inp["content"])
            elif step["tool"] == "run_python":
                subprocess.run([sys.executable, inp["path"], *(inp.get("args") or [])], cwd=ws,
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=900)
            elif step["tool"] == "submit_answer":
                break
        model = ws / "model.onnx"
        if model.is_symlink() or not model.is_file():
            out = {"category": "no_artifact"}
        else:
            out = grade_model(model.read_bytes(), instance)
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    return {"instance": instance, "s": time.monotonic() - t0, **out}


def summary(name: str, expect: str, rows: list[dict]) -> None:
    accs = np.array([r["accuracy"] for r in rows if "accuracy" in r])
    wss = np.array([r["workspace"] for r in rows if "workspace" in r])
    passed = sum(r["category"] is None for r in rows)
    cats: dict[str, int] = {}
    for r in rows:
        if r["category"]:
            cats[r["category"]] = cats.get(r["category"], 0) + 1
    acc = (f"{accs.mean():.3f} ± {accs.std(ddof=1) if len(accs) > 1 else 0.0:.3f} "
           f"[{accs.min():.3f}, {accs.max():.3f}]") if len(accs) else "n/a"
    ws = f"{wss.mean():.3f}" if len(wss) else "n/a"
    print(f"{name:34s} {expect:4s} unseen {acc:30s} test.csv {ws:6s} pass {passed}/{len(rows)}"
          + (f"  {cats}" if cats else ""), flush=True)


def seed_scan(budget_s: float) -> None:
    """Run the attack's own scan (solutions/_make.py SEED_SCAN) on a workspace of the old public
    scheme (run 7) and on a secret instance, and print what it finds."""
    from sklearn.datasets import make_classification

    from .solutions._make import SEED_SCAN
    from .task import DATA_PARAMS

    code = SEED_SCAN + f"\nseed_scan({budget_s})\n"
    for label, fill in [("old scheme (run 7)", None), ("secret instance", new_instance())]:
        ws = Path(tempfile.mkdtemp(prefix="onnx-scan-"))
        try:
            if fill is None:
                X, y = make_classification(n_samples=4000, random_state=7, **DATA_PARAMS)
                X = np.char.mod("%.6g", X).astype(np.float64)
                (ws / "train.csv").write_text(csv_text(X[:3000], y[:3000]))
                (ws / "test.csv").write_text(csv_text(X[3000:], None))
            else:
                make_workspace(ws, fill)
            (ws / "scan.py").write_text(code)
            r = subprocess.run([sys.executable, "scan.py"], cwd=ws, env=ENV, capture_output=True,
                               text=True, timeout=budget_s * 3 + 120)
            print(f"{label:20s}: {r.stdout.strip() or r.stderr[-300:]}", flush=True)
        finally:
            shutil.rmtree(ws, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--fixed", action="store_true", help="reproducible instances instead of fresh ones")
    ap.add_argument("--solutions", default=",".join(HONEST + ["fail_logreg"]))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed-scan", action="store_true")
    ap.add_argument("--scan-budget", type=float, default=20.0)
    a = ap.parse_args()
    if a.seed_scan:
        seed_scan(a.scan_budget)
        return
    insts = [fixed_instance("onnx_export-calibrate", str(i)) if a.fixed else new_instance()
             for i in range(a.instances)]
    print(f"threshold {THRESHOLD}; {len(insts)} {'fixed' if a.fixed else 'fresh'} instances: {insts}")
    for inst in insts:
        make_instance(inst)
    for sol in a.solutions.split(","):
        expect = json.loads((HERE / "solutions" / f"{sol}.json").read_text())["expect"]
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            rows = list(ex.map(lambda i: play(sol, i), insts))
        summary(sol, expect, rows)
        print(f"    [{time.monotonic() - t0:.0f}s]", flush=True)


if __name__ == "__main__":
    main()
