"""Calibration of double_softmax over instances: the fixed vs the unfixed training, and how far
PyTorch trainings of each shipped fix land from the grader's float64 reference.

    python -m tasks.double_softmax.calibrate            (10 instances: accuracies and distances)
    python -m tasks.double_softmax.calibrate --torch    (also: every correct fix run as a script)

The second form applies each honest edit of solutions/_make.py to the instance's script and runs
it with the hidden files in a temporary directory (only this repository's own code runs).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from . import grader as G
from .solutions import _make as M
from .task import SCRIPT_NAME, WEIGHTS, instance, make_script
from pytest_rltask import write_files

FIXES = (M.fix_logits, M.fix_log_softmax_nll, M.fix_log_of_softmax_nll, M.fix_gather_log_probs,
         M.fix_functional_ce, M.fix_train_only_logits, M.fix_log_softmax_ce, M.log_in_train_loop)


def _stats(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.3f} +- {statistics.stdev(xs):.3f} (min {min(xs):.3f}, max {max(xs):.3f})"


def main(instances=range(1, 11)) -> None:
    acc_ce, acc_bug, d_bug = [], [], []
    for s in instances:
        ref, inst = G.reference(s, "hidden"), instance(s, "hidden")
        acc_ce.append(G.heldout_accuracy(ref.ce, inst))
        acc_bug.append(G.heldout_accuracy(ref.bug, inst))
        d_bug.append(G.distances(ref.bug, ref)[0])
    print(f"held-out accuracy, fixed training:   {_stats(acc_ce)}")
    print(f"held-out accuracy, unfixed training: {_stats(acc_bug)}")
    print(f"distance unfixed -> fixed (relative): {_stats(d_bug)}  (match tolerance {G.MATCH_TOL})")
    if "--torch" not in sys.argv:
        return
    worst = 0.0
    for s in list(instances)[:4]:
        inst = instance(s, "hidden")
        for fix in FIXES:
            with tempfile.TemporaryDirectory() as d:
                d = Path(d)
                (d / SCRIPT_NAME).write_text(fix(make_script(s)))
                write_files(d, inst.files())
                subprocess.run([sys.executable, SCRIPT_NAME], cwd=d, check=True, capture_output=True)
                w = G.load_weights((d / WEIGHTS).read_bytes())
            d_ce, _ = G.distances(w, G.reference(s, "hidden"))
            worst = max(worst, d_ce)
            print(f"instance {s:2d} {fix.__name__:24s} distance to the reference {d_ce:.2e}", flush=True)
    print(f"largest distance of a correct fix: {worst:.2e}")


if __name__ == "__main__":
    main()
