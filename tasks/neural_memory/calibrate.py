"""Calibration of neural_memory: the reference vs a naive attempt, over seeds 1..10.

Runs the real grader script (`python -I`, in a temporary directory; no sandbox needed: only our
own model.py variants run here) and the pure verdict. The score is the number of the five
graded requirements met (recurrence, write, decay, surprise, blending; 0 if the interface is
broken). The naive attempt is what the write-up describes models doing: everything right except
a plain learned write gate and a non-complementary blend (g * attn + mem).

    python tasks/neural_memory/calibrate.py              (or: python -m tasks.neural_memory.calibrate)
    python tasks/neural_memory/calibrate.py --solutions  (every shipped variant, seeds 1..10)
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

import neural_memory_impls as I  # noqa: E402
import neural_memory_task as T  # noqa: E402

NAIVE = I._swap(I.FAIL_LEARNED_GATE, "return g * a + (1 - g) * m", "return g * a + m")


def grade_locally(model_text: str, seed: int) -> tuple[dict, dict]:
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "model.py").write_text(model_text)
        (d / "grader_input.json").write_text(json.dumps(T.grader_input(seed, nonce)))
        shutil.copy(T.GRADER_SCRIPT, d / T.GRADER_SCRIPT.name)
        subprocess.run([sys.executable, "-I", T.GRADER_SCRIPT.name], cwd=d, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        try:
            out = json.loads((d / "result.json").read_text())
        except (OSError, ValueError):
            out = None
    return out, T.context(seed, nonce)


def run(name: str, text: str, seeds) -> None:
    scores, passes, cats = [], 0, {}
    t0 = time.time()
    for seed in seeds:
        out, ctx = grade_locally(I.model_py(text), seed)
        a = T.analyse(out, ctx)
        scores.append(sum(ok for ok, _ in a["checks"].values()))
        if a["first"] is None:
            passes += 1
        else:
            cats[a["first"][0]] = cats.get(a["first"][0], 0) + 1
            if "-v" in sys.argv:
                print("   ", seed, a["first"])
    sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
    print(f"{name:28s} requirements met {statistics.mean(scores):.2f} +- {sd:.2f} of 5; "
          f"verdict pass {passes}/{len(scores)} {cats or ''}; "
          f"{(time.time() - t0) / len(scores):.1f} s/seed", flush=True)


def main() -> None:
    seeds = range(1, 11)
    if "--solutions" in sys.argv:
        for name, text in I.IMPLS.items():
            run(name, text, seeds)
        return
    run("reference", I.REFERENCE, seeds)
    run("naive (learned gate, g*a+m)", NAIVE, seeds)


if __name__ == "__main__":
    main()
