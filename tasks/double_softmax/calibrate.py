"""Calibration of double_softmax: the reference fix vs the naive attempt (the script unchanged).

Runs the real grader script (`python -I`, in a temporary directory; no sandbox needed: only our
own scripts run here) for seeds 1..10 and prints the held-out accuracy of the grader-trained
network (mean +- sd) and how often the full verdict passes.

    python tasks/double_softmax/calibrate.py            (or: python -m tasks.double_softmax.calibrate)
    python tasks/double_softmax/calibrate.py --solutions [SEED ...]   (each trajectory's verdict,
        at its own seed or replayed at the given seeds)
"""
from __future__ import annotations

import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import double_softmax_fixes as FX  # noqa: E402
import double_softmax_task as T  # noqa: E402


def grade_locally(script: str, seed: int) -> tuple[dict, dict]:
    """(grader JSON, verdict context) for a train_digits.py text."""
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / T.SCRIPT_NAME).write_text(script)
        (d / "grader_input.json").write_text(json.dumps(T.grader_input(seed, nonce)))
        shutil.copy(T.GRADER_SCRIPT, d / T.GRADER_SCRIPT.name)
        subprocess.run([sys.executable, "-I", T.GRADER_SCRIPT.name], cwd=d, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = json.loads((d / "result.json").read_text())
    return out, T.context(seed, nonce)


def main(seeds=range(1, 11)) -> None:
    variants = {"reference (softmax removed)": FX.fix_logits,
                "naive (script unchanged)": lambda s: s}
    for name, edit in variants.items():
        accs, passes, cats = [], 0, {}
        t0 = time.time()
        for seed in seeds:
            out, ctx = grade_locally(edit(T.make_script(seed)), seed)
            acc = T.heldout_accuracy(out, ctx)
            v = T.verdict(out, ctx)
            accs.append(acc if acc is not None else float("nan"))
            if v is None:
                passes += 1
            else:
                cats[v[0]] = cats.get(v[0], 0) + 1
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{name:30s} held-out acc {statistics.mean(accs):.3f} +- {sd:.3f} "
              f"(min {min(accs):.3f}, max {max(accs):.3f}); verdict pass {passes}/{len(accs)} "
              f"{cats or ''}; {(time.time() - t0) / len(accs):.1f} s/seed", flush=True)


def final_script(traj: dict, seed: int) -> str:
    """train_digits.py after a trajectory's steps (edit programs and bash run; training skipped)."""
    with tempfile.TemporaryDirectory() as d:
        T.make_workspace(Path(d), seed)
        for st in traj["steps"]:
            inp = st["input"]
            if st["tool"] == "write_file":
                (Path(d) / inp["path"]).write_text(inp["content"])
            elif st["tool"] == "run_python" and inp["path"] != T.SCRIPT_NAME:
                subprocess.run([sys.executable, inp["path"]], cwd=d, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            elif st["tool"] == "bash":
                subprocess.run(["bash", "-c", inp["command"]], cwd=d, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        return (Path(d) / T.SCRIPT_NAME).read_text()


def solutions() -> None:
    """Grade the final train_digits.py of every shipped trajectory and print its verdict and
    held-out accuracy: at the trajectory's own seed, or replayed at the seeds given."""
    sol_dir = Path(__file__).resolve().parent / "solutions"
    seeds = [int(a) for a in sys.argv[2:]] or [None]
    for path in sorted(sol_dir.glob("*.json")):
        traj = json.loads(path.read_text())
        for want_seed in seeds:
            seed = want_seed or traj.get("seed", 1)
            out, ctx = grade_locally(final_script(traj, seed), seed)
            v = T.verdict(out, ctx)
            acc = T.heldout_accuracy(out, ctx)
            got = "pass" if v is None else v[0]
            want = "pass" if traj["expect"] == "pass" else traj["category"]
            print(f"{path.stem:28s} seed {seed:2d}  expect {want:20s} got {got:20s} "
                  f"acc {'-' if acc is None else f'{acc:.3f}'}", flush=True)


if __name__ == "__main__":
    if "--solutions" in sys.argv:
        solutions()
    else:
        main()
