"""Calibration of neural_memory: every shipped model.py variant through check_memory.py on the
hidden probes of several instances, scored by the trusted grader (requirements met, of 5).

    python -m tasks.neural_memory.calibrate                 (reference and naive, instances 1..10)
    python -m tasks.neural_memory.calibrate --solutions     (every variant, instances 1..5)

Runs in temporary directories without a sandbox: only this repository's own variants run here.
The naive attempt is the write-up's typical answer: a plain learned write gate and g*attn + mem.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .grader import Bad, analyse, context, load_outputs
from .solutions import _make as M
from .task import OUTPUTS, RUNNER_NAME, make_workspace, probe_files
from pytest_rltask import write_files

NAIVE = M._swap(M.FAIL_LEARNED_GATE, "return g * a + (1 - g) * m", "return g * a + m")


def grade_locally(classes: str, inst: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        make_workspace(d, inst)
        (d / "model.py").write_text(M.model_py(classes))
        write_files(d, probe_files(inst, "hidden"))
        subprocess.run([sys.executable, RUNNER_NAME], cwd=d, capture_output=True, timeout=600,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        try:
            out = load_outputs((d / OUTPUTS).read_bytes())
        except (OSError, Bad):
            out = None
    return analyse(out, context(inst, "hidden"))


def run(name: str, classes: str, instances) -> None:
    scores, passes, cats = [], 0, {}
    t0 = time.time()
    for inst in instances:
        a = grade_locally(classes, inst)
        scores.append(sum(ok for ok, _ in a["checks"].values()))
        if a["first"] is None:
            passes += 1
        else:
            cats[a["first"][0]] = cats.get(a["first"][0], 0) + 1
    sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
    print(f"{name:28s} requirements met {statistics.mean(scores):.2f} +- {sd:.2f} of 5; "
          f"pass {passes}/{len(scores)} {cats or ''}; {(time.time() - t0) / len(scores):.1f} s/instance",
          flush=True)


def main() -> None:
    if "--solutions" in sys.argv:
        for name, (classes, *_rest) in M.IMPLS.items():
            if name not in M.FIRST_RUN:   # those need their session's cached outputs
                run(name, classes, range(1, 6))
        return
    run("reference", M.REFERENCE, range(1, 11))
    run("naive (learned gate, g*a+m)", NAIVE, range(1, 11))


if __name__ == "__main__":
    main()
