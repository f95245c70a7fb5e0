"""Startup overhead of the sandbox backends: median wall time of ``python -c pass``.

    python benchmarks/sandbox_overhead.py [--runs 20] [--docker]
        [--rootless-user USER --rootless-python /home/USER/venv/bin/python]

Compares a bare subprocess with the same command run through every backend this machine has
(``Sandbox.exec`` end to end: launcher, namespaces, uid switch, rlimits, the post-exec sweep for
leftover processes and the output read-back), with and without ``-S`` (no site import).
bubblewrap is rootless when the benchmark runs as a non-root user; as root, ``--rootless-user``
runs the same measurement again as that user (``su USER -c``; the interpreter given must be one
that user can read, and this checkout too) and adds its rows. ``--docker`` starts a private engine
(``pytest_rltask.sandbox._engine``: dockerd, an image made here by ``docker import``) and adds the
docker backend.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pytest_rltask.sandbox import Sandbox, _load_backends  # noqa: E402


def median_ms(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def measure(runs: int, docker: bool) -> list[tuple[str, str, float]]:
    py = sys.executable
    rows: list[tuple[str, str, float]] = []
    who = "root" if os.geteuid() == 0 else "user"
    for flags in ([], ["-S"]):
        cmd = [py, *flags, "-c", "pass"]
        label = " ".join(["python", *flags, "-c", "pass"])

        def bare() -> None:
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)

        rows.append((f"bare ({who})", label, median_ms(bare, runs)))
    names = ["bubblewrap", "unshare"]
    if docker:
        from pytest_rltask.sandbox import _engine

        why = _engine.engine()
        if why:
            print(f"# docker: no engine ({why})")
        else:
            names.append("docker")
    _load_backends()
    for name in names:
        cls = Sandbox.registry.get(name)
        why = cls.available() if cls else "not importable"
        if why:
            print(f"# {name}: not available here ({why[:300]})")
            continue
        with tempfile.TemporaryDirectory() as d, cls(Path(d) / "ws") as sb:
            kind = name + (" rootless" if getattr(sb, "rootless", False) and name == "bubblewrap" else "")
            for flags in ([], ["-S"]):
                cmd = [sb.python_executable(), *flags, "-c", "pass"]
                label = " ".join(["python", *flags, "-c", "pass"])

                def boxed() -> None:
                    res = sb.exec(cmd)
                    assert res.exit_code == 0, res.stderr

                rows.append((kind, label, median_ms(boxed, runs if name != "docker" else max(10, runs // 2))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="runs per configuration (>= 10)")
    ap.add_argument("--docker", action="store_true", help="start a private docker engine and measure it too")
    ap.add_argument("--rootless-user", help="as root: measure rootless bubblewrap as this user too")
    ap.add_argument("--rootless-python", help="the interpreter (venv) that user runs")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    runs = max(10, args.runs)
    rows = measure(runs, args.docker)
    if args.json:
        print(json.dumps(rows))
        return
    if args.rootless_user:
        py = args.rootless_python or sys.executable
        cmd = f"cd {shlex.quote(str(REPO))} && {shlex.quote(py)} benchmarks/sandbox_overhead.py --runs {runs} --json"
        out = subprocess.run(["su", args.rootless_user, "-c", cmd], capture_output=True, text=True, timeout=1800)
        lines = out.stdout.strip().splitlines()
        for line in lines[:-1]:
            print(line)
        if out.returncode != 0 or not lines:
            print(f"# rootless run as {args.rootless_user} failed: {out.stderr[-500:]}")
        else:
            rows += [tuple(r) for r in json.loads(lines[-1])]
    load = os.getloadavg()
    print(f"median of {runs} runs (docker: {max(10, runs // 2)}) (wall ms); {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (a busy machine inflates every figure)")
    base = {}
    for kind, label, ms in rows:
        if kind.startswith("bare"):
            base[(kind, label)] = ms
    for kind, label, ms in rows:
        ref = base.get(("bare (user)" if kind == "bubblewrap rootless" else "bare (root)", label)) \
            or base.get(("bare (user)", label))
        extra = "" if kind.startswith("bare") or ref is None else f"  (+{ms - ref:.1f} ms)"
        print(f"{kind:20s} {label:22s} {ms:8.1f}{extra}")


if __name__ == "__main__":
    main()
