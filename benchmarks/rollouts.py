"""Wall time of 10 arithmetic rollouts against a local Messages API that answers after 1 s.

The work of research/performance.md: two model turns per rollout (write+run the script, then
submit), so the critical path is 2.0 s; every tool call runs in the sandbox. Usage:

    python benchmarks/rollouts.py [--workers 10] [--repeat 3]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="10")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    times = []
    with m.MessagesAPIServer(model) as server:
        env = {**os.environ, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "bench"}
        for _ in range(args.repeat):
            t0 = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "tasks/arithmetic", "-m", "not offline", "-q",
                 "-p", "no:cacheprovider", "--rl-runs", "10", "-n", args.workers, "--rl-band", "0,1"],
                cwd=ROOT, env=env, capture_output=True, text=True,
            )
            times.append(time.monotonic() - t0)
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-2000:])
                raise SystemExit("benchmark run failed")
    print(f"10 rollouts, -n {args.workers}, 1 s per model turn, 2 turns: "
          f"median {statistics.median(times):.2f} s over {len(times)} runs ({', '.join(f'{t:.2f}' for t in times)}); "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
