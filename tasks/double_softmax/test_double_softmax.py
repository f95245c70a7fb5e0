"""double_softmax: fix a silent double-softmax bug (softmax output fed to CrossEntropyLoss).

The grader never reads or imports the agent's code. It runs ``python train_digits.py`` (as the
agent's ``run_python`` does) twice in fresh sandboxes: on the workspace's own instance, and on a
hidden one written over the same three input files. Each run's ``weights.npz`` comes back as
bytes and is compared here, in the pytest process, with the training recomputed in numpy (the fix:
cross-entropy of the logits; and the unfixed one, to name the failure), then scored on held-out
digits whose features and labels never enter a sandbox. See README.md.
"""
from __future__ import annotations

from pytest_rltask import fail

from .grader import ACC_THRESHOLD, MAX_MEMBER_BYTES, Verdict, heldout_accuracy, judge_run, reference
from .task import SCRIPT_NAME, TASK, WEIGHTS, instance  # noqa: F401  (TASK: the fixture's)


def test_double_softmax(rollout):
    try:
        for which in ("hidden", "workspace"):   # a copied or pinned product fails the first run
            inst = instance(rollout.instance, which)
            run = rollout.run([SCRIPT_NAME], files=inst.files(), outputs=[WEIGHTS],
                              max_output_bytes=8 * MAX_MEMBER_BYTES)
            w = judge_run(run.exit_code, run.timed_out, run.limit, run.stderr,
                          run.files.get(WEIGHTS), reference(rollout.instance, which),
                          f"run on the {which} instance")
            if which == "hidden":   # features and labels of these digits never enter a sandbox
                acc = heldout_accuracy(w, inst)
                rollout.score("heldout_accuracy", acc)
                if acc < ACC_THRESHOLD:
                    raise Verdict("low_accuracy", f"held-out accuracy {acc:.3f} < {ACC_THRESHOLD}")
    except Verdict as v:
        fail(v.category, v.message)
