"""Calibration of eval_lookup_patch: `python -m tasks.eval_lookup_patch.calibrate [--instances 10]`.

Two parts, both on FRESH secret instances (`secrets.randbits(63)`, printed so a row can be re-run):

1. What the agent can learn about its instance (pure computation, no agent code): held-out
   accuracy of a least-squares fit of data/train.jsonl (what the data teaches), of the real-world
   factors (what memory of the real world gives), and after retraining of the best guess an agent
   that knows the generator can make about the counterfactual world (a random draw of its offsets).
2. Replays of shipped trajectories (default: every `expect: pass` one) on each instance, graded by
   `grader.grade` exactly as the test does, with `LocalRollout.run` standing in for `Rollout.run`:
   plain subprocesses in temporary copies of the workspace (no sandbox: the trajectories replayed are
   this repository's own code, trusted). Prints one verdict per (solution, instance).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pytest_rltask import RolloutFailure, write_files
from pytest_rltask.task import AgentRun

from . import grader
from .task import STEP, TRAIN_LIMIT_S, make_instance, make_workspace, truth

HERE = Path(__file__).resolve().parent
# replayed only by the offline suite, in the sandbox: outside it they would write forged files into the
# host's /tmp (hack_daemon_forge) or read the host's directory layout (hack_detect_grading_layout)
SANDBOX_ONLY = {"hack_daemon_forge", "hack_detect_grading_layout"}
ENV = {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
       "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


class LocalRollout:
    """The part of Rollout that grader.grade uses, on plain subprocesses (trusted code only)."""

    def __init__(self, workspace: Path, instance: int) -> None:
        self.workspace, self.instance, self.scores = workspace, instance, {}

    def score(self, name: str, value: float) -> None:
        self.scores[name] = float(value)

    def run(self, args=None, *, command=None, files=None, outputs=(), stdin=None, limits=None,
            from_workspace=True, max_output_bytes=grader.MAX_PREDICTIONS_BYTES) -> AgentRun:
        ws = Path(tempfile.mkdtemp(prefix="elp-cal-"))
        try:
            if from_workspace:
                shutil.copytree(self.workspace, ws, symlinks=True, dirs_exist_ok=True)
            write_files(ws, files)
            argv = [sys.executable, *args] if command is None else ["/bin/bash", "-c", command]
            t0 = time.monotonic()
            try:
                p = subprocess.run(argv, cwd=ws, env=ENV, input=stdin or b"", capture_output=True,
                                   timeout=TRAIN_LIMIT_S)
                code, out, err, to = p.returncode, p.stdout, p.stderr, False
            except subprocess.TimeoutExpired as e:
                code, out, err, to = None, e.stdout or b"", e.stderr or b"", True
            got, missing = {}, {}
            for name in outputs:
                f = ws / name
                if f.is_file() and not f.is_symlink() and f.stat().st_size <= max_output_bytes:
                    got[name] = f.read_bytes()
                else:
                    missing[name] = "was not written"
            return AgentRun(exit_code=code, stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
                            seconds=time.monotonic() - t0, limit="wall_time" if to else None, timed_out=to,
                            peak_rss=None, files=got, missing=missing)
        finally:
            shutil.rmtree(ws, ignore_errors=True)


def replay(ws: Path, steps: list[dict]) -> None:
    """Play a trajectory's file-changing steps in ws (plain subprocesses: trusted code only)."""
    for st in steps:
        tool, inp = st["tool"], st["input"]
        if tool == "write_file":
            p = ws / inp["path"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(inp["content"])
        elif tool in ("run_python", "bash"):
            argv = [sys.executable, inp["path"], *inp.get("args", [])] if tool == "run_python" \
                else ["/bin/bash", "-c", inp["command"]]
            subprocess.run(argv, cwd=ws, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=TRAIN_LIMIT_S)


def grade_solution(name: str, instance: int) -> tuple[str, dict[str, float], float]:
    traj = json.loads((HERE / "solutions" / f"{name}.json").read_text())
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="elp-ws-") as d:
        ws = Path(d)
        make_workspace(ws, instance)
        replay(ws, traj["steps"])
        ro = LocalRollout(ws, instance)
        try:
            grader.grade(ro, make_instance(instance))
            verdict = "passed"
        except RolloutFailure as e:
            verdict = e.category
    return verdict, ro.scores, time.monotonic() - t0


def lstsq(inst, rows) -> dict[str, float]:
    known = {q[3]: q for q in inst.seen}
    ix = {u: i for i, u in enumerate(inst.units)}
    a = np.zeros((len(rows), len(ix)))
    b = np.zeros(len(rows))
    for k, r in enumerate(rows):
        v, s, t, _ = known[r["question"]]
        a[k, ix[s]], a[k, ix[t]], b[k] = 1.0, -1.0, math.log(r["answer"] / v)
    x = np.linalg.lstsq(a, b, rcond=None)[0]
    return {u: math.exp(x[ix[u]]) for u in inst.units}


def knowable(instances: list[int]) -> None:
    """What data, memory of the real world, and knowledge of the generator give an agent."""
    rows = {"least-squares fit of data/train.jsonl, held-out": [], "real-world factors, held-out": [],
            "generator-aware guess of the retrained world, held-out": [],
            "data/ labels as answers, mislabeled rows": []}
    worst: list[float] = []
    gap: list[float] = []
    for n in instances:
        inst = make_instance(n)
        fit = lstsq(inst, inst.train_rows)
        rows["least-squares fit of data/train.jsonl, held-out"].append(
            grader.verdict_heldout({q[3]: truth(q, fit) for q in inst.hidden}, inst)[2]["accuracy"])
        rows["real-world factors, held-out"].append(
            grader.verdict_heldout({q[3]: truth(q, inst.real) for q in inst.hidden}, inst)[2]["accuracy"])
        rng = random.Random(n ^ 0x5EED)  # a guess: the generator's offsets, drawn without the secret
        guess = {}
        for fam in sorted(set(inst.family.values())):
            names = [u for u in inst.units if inst.family[u] == fam]
            ks = list(range(-(len(names) // 2), len(names) - len(names) // 2))
            rng.shuffle(ks)
            guess.update({u: fit[u] * math.exp(STEP * k) for u, k in zip(names, ks)})
        rows["generator-aware guess of the retrained world, held-out"].append(
            grader.verdict_retrained({q[3]: truth(q, guess) for q in inst.hidden}, inst)[2]["cf_accuracy"])
        labels = grader.labels_of(inst.train_rows + inst.val_rows)
        rows["data/ labels as answers, mislabeled rows"].append(
            grader.verdict_seen(labels, inst)[2]["probe_accuracy"])
        both = lstsq(inst, inst.train_rows + inst.val_rows)
        worst.append(max(abs(truth(q, f) / truth(q, inst.size) - 1) for f in (fit, both) for q in inst.hidden + inst.seen))
        gap.append(min(abs(labels[q[3]] / truth(q, f) - 1) for f in (fit, both) for q in inst.seen if q[3] in inst.probes))
    for k, v in rows.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        print(f"  {k:58s} accuracy {statistics.mean(v):.3f} +- {sd:.3f}  (n={len(v)})")
    print(f"  least-squares fit (train, or train+val) vs the true world: worst relative error {max(worst):.4f}; "
          f"mislabeled rows' labels at least {min(gap):.4f} from the fit")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=10)
    ap.add_argument("--solutions", default="pass", help="comma-separated names, or pass / fail / all")
    ap.add_argument("--knowable", type=int, default=1000, help="instances for part 1")
    args = ap.parse_args()
    print(f"part 1: what an agent can learn ({args.knowable} fresh instances)")
    knowable([secrets.randbits(63) for _ in range(args.knowable)])
    every = sorted(p.stem for p in (HERE / "solutions").glob("*.json"))
    meta = {n: json.loads((HERE / "solutions" / f"{n}.json").read_text()) for n in every}
    if args.solutions in ("pass", "fail", "all"):
        names = [n for n in every if args.solutions in ("all", meta[n]["expect"]) and n not in SANDBOX_ONLY]
    else:
        names = args.solutions.split(",")
    instances = [secrets.randbits(63) for _ in range(args.instances)]
    if not instances:
        return
    print(f"part 2: replays on {len(instances)} fresh instances")
    bad = 0
    for name in names:
        want = "passed" if meta[name]["expect"] == "pass" else meta[name]["category"]
        got = []
        for n in instances:
            verdict, scores, secs = grade_solution(name, n)
            got.append(verdict)
            print(f"  {name:32s} instance {n:19d} {make_instance(n).variant:15s} {verdict:18s} "
                  f"{secs:5.1f}s {json.dumps({k: round(v, 3) for k, v in scores.items()})}", flush=True)
        ok = sum(g == want for g in got)
        bad += ok != len(got)
        print(f"{name:32s} {ok}/{len(got)} as declared ({want})", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
