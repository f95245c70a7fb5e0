"""neural_memory: add a surprise-gated, decaying, outer-product neural memory to a small transformer.

The grader never reads or imports the agent's code. It runs ``python check_memory.py`` (its own
pristine copy of the workspace's runner, started as the agent's ``run_python`` starts it) in a
fresh sandbox with hidden probe sizes and inputs written over ``probe_config.json`` and
``probe_inputs.npz``; ``probe_outputs.npz`` comes back as bytes and is judged here as data
(grader.analyse), against values recomputed from the hidden instance. See README.md.
"""
from __future__ import annotations

from pytest_rltask import fail

from .grader import Bad, analyse, context, load_outputs
from .task import OUTPUTS, RUNNER_NAME, TASK, probe_files  # noqa: F401  (TASK: the fixture's)


def test_neural_memory(rollout):
    run = rollout.run([RUNNER_NAME], files=probe_files(rollout.instance, "hidden"), outputs=[OUTPUTS],
                      max_output_bytes=64 << 20)
    if run.timed_out or run.limit:
        fail("interface", f"check_memory.py stopped by the sandbox's {run.limit or 'wall time'} limit")
    if OUTPUTS not in run.files:
        fail("interface", f"check_memory.py left no {OUTPUTS} (exit {run.exit_code}): {run.stderr[-800:]}")
    try:
        out = load_outputs(run.files[OUTPUTS])
    except Bad as e:
        fail(e.cat, e.msg)
    if run.exit_code != 0 and "error" not in out:
        fail("interface", f"check_memory.py exited {run.exit_code}: {run.stderr[-800:]}")
    a = analyse(out, context(rollout.instance, "hidden"))
    rollout.score("requirements_met", sum(1 for ok, _ in a["checks"].values() if ok))
    if a["first"] is not None:
        fail(*a["first"])
