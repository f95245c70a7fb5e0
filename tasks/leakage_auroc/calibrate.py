"""Score distribution of the shipped leakage_auroc solutions on fresh secret instances.

    python -m tasks.leakage_auroc.calibrate [--instances 10] [--fixed] [--jobs 2] [names...]
    python -m tasks.leakage_auroc.calibrate --seed-scan      # what the seed-scan attack finds

Each solution's steps run in a fresh temporary workspace of the instance (plain subprocesses:
these are our own scripts, not agent code); then, as the grader does, predict.py runs again in a
copy of that workspace whose test.csv holds the instance's hidden customers (predictions.csv
replaced by an empty placeholder), and its predictions.csv is judged by the grader's functions.
Prints the AUROC on the hidden customers (mean ± sd, min, max), the AUROC of the workspace's own
predictions.csv on test.csv, the pass count at the threshold, and failure categories.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_rltask import RolloutFailure
from pytest_rltask.task import fixed_instance, new_instance

from . import grader
from .solutions._make import SOLUTIONS
from .task import generate, to_csv, write_workspace

DEFAULT = ["reference", "alt_oof_target_encoding", "alt_spline_logistic", "alt_random_forest",
           "fail_naive_all_columns", "fail_drop_future_only", "hack_copy_peer_rate"]


class _Run:
    """The fields of AgentRun that grader.predictions_of_run reads."""

    def __init__(self, proc: subprocess.CompletedProcess | None, ws: Path, timed_out: bool) -> None:
        self.timed_out, self.limit = timed_out, None
        self.exit_code = None if proc is None else proc.returncode
        self.stderr = "" if proc is None else proc.stderr[-2000:]
        out = ws / grader.OUTPUT
        self.files, self.missing = {}, {}
        if not os.path.lexists(out):
            self.missing[grader.OUTPUT] = "was not written"
        elif out.is_symlink() or not out.is_file():
            self.missing[grader.OUTPUT] = "is not a regular file inside the workspace"
        else:
            self.files[grader.OUTPUT] = out.read_bytes()


def _env(home: str) -> dict:
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": home}


def run_one(name: str, instance: int) -> tuple[str, int, object, float | None]:
    steps = SOLUTIONS[name][3]
    inst = generate(instance)
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as g:
        ws, gws = Path(d), Path(g)
        write_workspace(ws, instance)
        for st in steps:
            inp = st["input"]
            if st["tool"] == "write_file":
                (ws / inp["path"]).parent.mkdir(parents=True, exist_ok=True)
                (ws / inp["path"]).write_text(inp["content"])
            elif st["tool"] == "run_python":
                subprocess.run([sys.executable, inp["path"]], cwd=ws, env=_env(d), capture_output=True, timeout=600)
            elif st["tool"] == "bash":
                subprocess.run(["/bin/bash", "-c", inp["command"]], cwd=ws, env=_env(d), capture_output=True, timeout=600)
        own = ws / grader.OUTPUT
        ws_auroc = grader.auroc_or_none(own.read_bytes() if own.is_file() and not own.is_symlink() else None,
                                        list(inst.test["customer_id"]), inst.y_test)
        if not (ws / grader.PREDICT).is_file():
            return name, instance, "no_artifact", ws_auroc
        if (ws / "test.csv").is_symlink():
            return name, instance, "bad_workspace", ws_auroc
        shutil.copytree(ws, gws, symlinks=True, dirs_exist_ok=True)
        (gws / "test.csv").write_text(to_csv(inst.hidden))
        if os.path.lexists(gws / grader.OUTPUT):
            os.remove(gws / grader.OUTPUT)
        (gws / grader.OUTPUT).write_bytes(b"")
        try:
            proc = subprocess.run([sys.executable, grader.PREDICT], cwd=gws, env=_env(g), capture_output=True,
                                  text=True, timeout=300)
            run = _Run(proc, gws, False)
        except subprocess.TimeoutExpired:
            run = _Run(None, gws, True)
        ids = list(inst.hidden["customer_id"])
        try:
            raw = grader.predictions_of_run(run)
            score = grader.judge(raw, ids, inst.y_hidden)
        except RolloutFailure as e:
            if e.category == "low_auroc":
                return name, instance, grader.auroc(grader.parse_predictions(raw, ids), inst.y_hidden), ws_auroc
            return name, instance, e.category, ws_auroc
        return name, instance, score, ws_auroc


def seed_scan() -> None:
    """Run hack_seed_scan_labels's predict.py on a workspace of the old public scheme (run 7,
    built with the old generator from git history) and on a secret instance."""
    script = SOLUTIONS["hack_seed_scan_labels"][3][1]["input"]["content"]
    old = subprocess.run(["git", "show", "5c4d1e1:tasks/leakage_auroc/leakage_auroc_data.py"],
                         capture_output=True, text=True, cwd=Path(__file__).parent)
    cases = [("secret instance", None)]
    if old.returncode == 0:
        cases.insert(0, ("old scheme (run 7)", old.stdout))
    else:
        print("old generator not in git history here; only the secret instance is scanned")
    for label, src in cases:
        with tempfile.TemporaryDirectory() as d:
            ws = Path(d)
            if src is None:
                write_workspace(ws, new_instance())
            else:
                ns: dict = {"__name__": "old_generator"}
                exec(compile(src, "leakage_auroc_data.py", "exec"), ns)
                ns["write_workspace"](ws, 7)
            (ws / "predict.py").write_text(script)
            r = subprocess.run([sys.executable, "predict.py"], cwd=ws, env=_env(d), capture_output=True, text=True,
                               timeout=300)
            print(f"{label:20s}: {' / '.join(r.stdout.split(chr(10))[:3])}{r.stderr[-300:]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--fixed", action="store_true", help="reproducible instances instead of fresh ones")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed-scan", action="store_true")
    ap.add_argument("names", nargs="*", default=DEFAULT)
    a = ap.parse_args()
    if a.seed_scan:
        seed_scan()
        return
    insts = [fixed_instance("leakage_auroc-calibrate", str(i)) if a.fixed else new_instance()
             for i in range(a.instances)]
    print(f"threshold: AUROC >= {grader.THRESHOLD} on the hidden customers; {len(insts)} "
          f"{'fixed' if a.fixed else 'fresh'} instances {insts}")
    print(f"{'solution':28s} {'expect':7s} {'AUROC mean ± sd':17s} {'min':>6s} {'max':>6s}  pass  test.csv", flush=True)
    for n in a.names:  # one line per solution as soon as it is done
        t0 = time.time()
        with cf.ThreadPoolExecutor(a.jobs) as ex:
            out = list(ex.map(lambda i: run_one(n, i), insts))
        res = [r for _, _, r, _ in out]
        wsr = [w for _, _, _, w in out if w is not None]
        nums = [r for r in res if isinstance(r, float)]
        other = [r for r in res if not isinstance(r, float)]
        passed = sum(1 for r in nums if r >= grader.THRESHOLD)
        if nums:
            v = np.array(nums)
            line = f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}   {v.min():6.3f} {v.max():6.3f}  {passed}/{len(res)}"
        else:
            line = f"{'-':17s} {'':6s} {'':6s}  0/{len(res)}"
        line += f"  {np.mean(wsr):.3f}" if wsr else "  -"
        if other:
            line += "  " + ", ".join(f"{c}:{other.count(c)}" for c in sorted(set(other)))
        print(f"{n:28s} {SOLUTIONS[n][0]:7s} {line}  [{time.time() - t0:.0f}s]", flush=True)


if __name__ == "__main__":
    main()
