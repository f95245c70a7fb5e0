"""Calibration of tasks/onnx_export: scores of shipped solutions over seeds 1..10.

    python tasks/onnx_export/calibrate.py                 # reference vs naive logistic regression
    python tasks/onnx_export/calibrate.py --solutions reference,alt_sigmoid_legacy --seeds 1-3

For every (solution, seed) it builds the seed's workspace, runs the solution's scripts (our own
trusted code, as plain subprocesses with one thread), grades model.onnx with grade_onnx.py exactly
as the test does (python -I, a fresh directory holding only model.onnx and X.npy), and prints
accuracy mean ± sd and the pass count at the threshold. It also prints a quick in-process
scikit-learn logistic regression and MLP on the same data (no ONNX) for reference.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import onnx_export_lib as lib  # noqa: E402

ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
}


def play(solution: str, seed: int) -> dict:
    traj = json.loads((HERE / "solutions" / f"{solution}.json").read_text())
    t0 = time.monotonic()
    ws = Path(tempfile.mkdtemp(prefix="onnx-cal-ws-"))
    gd = Path(tempfile.mkdtemp(prefix="onnx-cal-grade-"))
    try:
        Xtr, ytr, Xte, yte = lib.make_data(seed)
        (ws / "train.csv").write_text(lib.csv_text(Xtr, ytr))
        (ws / "test.csv").write_text(lib.csv_text(Xte, None))
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
            return {"seed": seed, "category": "no_artifact", "s": time.monotonic() - t0}
        shutil.copyfile(model, gd / "model.onnx")
        (gd / "X.npy").write_bytes(lib.features_npy(Xte))
        shutil.copyfile(HERE / "grade_onnx.py", gd / "grade_onnx.py")
        subprocess.run([sys.executable, "-I", "grade_onnx.py"], cwd=gd, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        result = json.loads((gd / "result.json").read_text())
        try:
            pred = lib.labels_from_result(result, len(yte))
        except lib.Verdict as v:
            return {"seed": seed, "category": v.category, "s": time.monotonic() - t0}
        acc = lib.accuracy(pred, yte)
        return {"seed": seed, "accuracy": acc,
                "category": None if acc >= lib.THRESHOLD else "low_accuracy",
                "s": time.monotonic() - t0}
    finally:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(gd, ignore_errors=True)


def sklearn_baselines(seeds: list[int]) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for name, make in [
        ("sklearn LogisticRegression (in-process, no ONNX)",
         lambda: make_pipeline(StandardScaler(), LogisticRegression())),
        ("sklearn MLPClassifier(64, 64) (in-process, no ONNX)",
         lambda: make_pipeline(StandardScaler(), MLPClassifier((64, 64), max_iter=200, random_state=0))),
    ]:
        accs = []
        warnings.simplefilter("ignore", ConvergenceWarning)
        for s in seeds:
            Xtr, ytr, Xte, yte = lib.make_data(s)
            accs.append(make().fit(Xtr, ytr).score(Xte, yte))
        summary(name, [{"seed": s, "accuracy": a, "category": None if a >= lib.THRESHOLD else "low_accuracy"}
                       for s, a in zip(seeds, accs)])


def summary(name: str, rows: list[dict]) -> None:
    accs = np.array([r["accuracy"] for r in rows if "accuracy" in r])
    passed = sum(r["category"] is None for r in rows)
    cats: dict[str, int] = {}
    for r in rows:
        if r["category"]:
            cats[r["category"]] = cats.get(r["category"], 0) + 1
    acc = f"{accs.mean():.3f} ± {accs.std(ddof=1) if len(accs) > 1 else 0.0:.3f} (min {accs.min():.3f}, max {accs.max():.3f})" if len(accs) else "n/a"
    print(f"{name:55s} accuracy {acc}; passes {passed}/{len(rows)}" + (f"; failures {cats}" if cats else ""),
          flush=True)


def parse_seeds(s: str) -> list[int]:
    out: list[int] = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--solutions", default="reference,fail_logreg")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-sklearn", action="store_true")
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    print(f"threshold {lib.THRESHOLD}; seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); data {lib.DATA_PARAMS}")
    if not a.no_sklearn:
        sklearn_baselines(seeds)
    for sol in a.solutions.split(","):
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            rows = list(ex.map(lambda s: play(sol, s), seeds))
        summary(f"solution {sol} (ONNX via grade_onnx.py)", rows)
        print(f"    per seed: {[(r['seed'], round(r.get('accuracy', float('nan')), 3)) for r in rows]}"
              f"  [{time.monotonic() - t0:.0f}s]", flush=True)


if __name__ == "__main__":
    main()
