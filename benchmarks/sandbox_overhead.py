"""Startup overhead of the sandbox backends: median wall time of ``python -c pass``.

    python benchmarks/sandbox_overhead.py [--runs 20]

Compares a bare subprocess with the same command run through every backend this machine has
(``Sandbox.exec`` end to end: launcher, namespaces, uid switch, rlimits, the post-exec sweep for
leftover processes and the output read-back), with and without ``-S`` (no site import).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_rltask.sandbox import Sandbox, _load_backends  # noqa: E402


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="runs per configuration (>= 10)")
    args = ap.parse_args()
    runs = max(10, args.runs)
    py = sys.executable
    rows: list[tuple[str, str, float]] = []
    for flags in ([], ["-S"]):
        cmd = [py, *flags, "-c", "pass"]
        label = " ".join(["python", *flags, "-c", "pass"])

        def bare() -> None:
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)

        rows.append(("bare subprocess", label, median_ms(bare, runs)))
    _load_backends()
    for name in ("bubblewrap", "unshare"):
        cls = Sandbox.registry.get(name)
        why = cls.available() if cls else "not importable"
        if why:
            print(f"# {name}: not available here ({why})")
            continue
        with tempfile.TemporaryDirectory() as d, cls(Path(d) / "ws") as sb:
            for flags in ([], ["-S"]):
                cmd = [sb.python_executable(), *flags, "-c", "pass"]
                label = " ".join(["python", *flags, "-c", "pass"])

                def boxed() -> None:
                    res = sb.exec(cmd)
                    assert res.exit_code == 0, res.stderr

                rows.append((name, label, median_ms(boxed, runs)))
    load = os.getloadavg()
    print(f"median of {runs} runs (wall ms); {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (a busy machine inflates every figure)")
    base = {label: ms for kind, label, ms in rows if kind == "bare subprocess"}
    for kind, label, ms in rows:
        extra = "" if kind == "bare subprocess" else f"  (+{ms - base[label]:.1f} ms)"
        print(f"{kind:16s} {label:22s} {ms:8.1f}{extra}")


if __name__ == "__main__":
    main()
