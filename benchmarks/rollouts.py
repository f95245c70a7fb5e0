"""How wall time scales with the number of rollouts, against a local Messages API answering after 1 s.

Every run is played (``--rl-early-stop off``: with the band 0-1 early stop would end each task
after its first run).

The work of research/performance.md: arithmetic rollouts of two model turns each (write+run the
script, then submit), so one rollout's critical path is 2.0 s; every tool call runs in the sandbox.
For each ``-n`` and each count of rollouts, the median whole-process wall time of ``--repeat``
runs, and its ratio to one rollout at the same ``-n`` (the engine's goal: 10 rollouts within 1.2x,
100 within 2x). Runs alternate between counts so that load drifts hit all of them alike. Usage:

    python benchmarks/rollouts.py [--counts 1,10,50,100] [--workers 0,2] [--repeat 3] [--concurrency 64]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Reply  # noqa: E402
from tests.servers import messages_api as m  # noqa: E402

SCRIPT = "print((2**10 + 3**5) * 7 - 100)\n"


def model(body: dict) -> Reply:
    if len(body["messages"]) == 1:
        msg = m.message(
            m.tool_use("write_file", {"path": "calc.py", "content": SCRIPT}),
            m.tool_use("run_python", {"path": "calc.py"}),
        )
    else:
        out = m.result_text(m.tool_results(body)[-1]).split("stdout:\n", 1)[-1].split("\n", 1)[0].strip()
        msg = m.message(m.tool_use("submit_answer", {"answer": out}))
    return Reply(msg, delay=1.0)


def one(server_url: str, runs: int, workers: str, concurrency: int) -> float:
    env = {**os.environ, "ANTHROPIC_BASE_URL": server_url, "ANTHROPIC_API_KEY": "bench"}
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tasks/arithmetic", "-m", "not offline", "-q",
         "-p", "no:cacheprovider", "--rl-runs", str(runs), "--rl-min-runs", "1", "-n", workers,
         "--rl-band", "0,1", "--rl-early-stop", "off", "--rl-concurrency", str(concurrency),
         "--rl-transcripts", str(ROOT / ".rltask" / "bench")],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:])
        raise SystemExit(f"benchmark run failed ({runs} rollouts, -n {workers})")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="1,10,50,100")
    ap.add_argument("--workers", default="0,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    workers = args.workers.split(",")
    times: dict[tuple[str, int], list[float]] = {(w, c): [] for w in workers for c in counts}
    with m.MessagesAPIServer(model) as server:
        for _ in range(args.repeat):
            for w in workers:
                for c in counts:
                    times[(w, c)].append(one(server.url, c, w, args.concurrency))
    print(f"rollouts of 2 model turns at 1 s each (critical path 2.0 s), --rl-concurrency {args.concurrency}, "
          f"median of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'-n':>4} {'rollouts':>9} {'wall s':>8} {'x one rollout':>14}")
    for w in workers:
        base = statistics.median(times[(w, counts[0])])
        for c in counts:
            med = statistics.median(times[(w, c)])
            print(f"{w:>4} {c:>9} {med:8.2f} {med / base:14.2f}")


if __name__ == "__main__":
    main()
