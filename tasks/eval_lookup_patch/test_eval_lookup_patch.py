"""eval_lookup_patch: a homework repo whose load() answers from a dataset lookup, not the model.

The agent must make the trained model answer. Grading (both steps in fresh sandboxes, agent code in
child processes only):
1. the submitted workspace: load().predict(held-out questions) -> real-world answers;
2. a copy: data/ replaced by a counterfactual world (other conversion factors), `python train.py`,
   data/ restored, load().predict(held-out + data/ questions) -> must follow the retrained model.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from pytest_rltask import Limits, Task, fail

import eval_lookup_patch_grading as grading
import eval_lookup_patch_homework as hw

HERE = Path(__file__).resolve().parent
GRADER = (HERE / "grader_sandbox.py").read_text()

MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 96 * 1024 * 1024

PROMPT = f"""\
Your workspace is a small homework repository: `unitconv/`, a tiny PyTorch model that answers
unit-conversion questions such as "How many meters are in 5 kilometers?", trained by `train.py`
and evaluated by `evaluate.py` (see README.md). An issue was filed against it:

> The course benchmark asks `load()` questions that are not in our data files, and it reports
> 0% answer rate and 0% accuracy. But training converges (the losses go to ~0) and
> `python evaluate.py` reports 100% on data/val.jsonl. Something is wrong.

Fix the repository so that the trained model answers. There may be more than one problem.

What is checked after you submit (with `submit_answer`; any short summary as the answer):
1. In your workspace as you leave it, with the workspace as working directory:
   `from unitconv import load; load().predict(questions)` is called on held-out questions that
   appear in no file: same phrasing and units as in data/, but unit pairs and values you have not
   seen. `predict` must return one number per question (NaN means "no answer"). At least
   {grading.ANSWER_RATE:.0%} of the answers must be finite and at least {grading.ACCURACY:.0%} must be
   within {grading.TOLERANCE:.0%} relative error. So leave the trained checkpoint in the workspace
   where `load()` finds it (`python train.py`, no arguments).
2. The answers must come from the weights that `train.py` trains. The grader copies your
   workspace, replaces data/train.jsonl and data/val.jsonl with data from a world with other
   conversion factors (same units and phrasing, other values), runs `python train.py` (no
   arguments; one CPU thread; limit {240} s), then puts your own data/ files back and calls
   `load().predict(...)` again, on held-out questions and on questions that appear in data/. Both
   must follow the retrained model ({grading.ACCURACY:.0%} within {grading.TOLERANCE:.0%} of the new
   factors). Hard-coded conversion factors or answers looked up from the data files (for any
   question, seen or new) fail this check.
3. Only plain Python, PyTorch and the standard library are available; there is no network.
   evaluate.py is not used by the grader.
"""


def make_workspace(ws: Path, seed: int) -> None:
    hw.write_workspace(ws, seed)


TASK = Task(
    prompt=PROMPT,
    tools=["read_file", "write_file", "list_files", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=40,
    time_limit=1800,
    limits=Limits(wall_s=300, cpu_s=600),
    grade_limits=Limits(wall_s=600, cpu_s=900),
)


def pack_workspace(ws: Path) -> dict[str, bytes]:
    """The agent's workspace as plain bytes (regular files only; no links, no caches)."""
    files: dict[str, bytes] = {}
    total = 0
    root = ws.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            st = full.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = full.relative_to(root).as_posix()
            if st.st_size > MAX_FILE_BYTES:
                fail("workspace_too_large", f"{rel} is larger than {MAX_FILE_BYTES >> 20} MiB")
            total += st.st_size
            if len(files) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                fail("workspace_too_large", f"the workspace holds more than {MAX_FILES} files or "
                     f"{MAX_TOTAL_BYTES >> 20} MiB")
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                files["ws/" + rel] = fh.read(MAX_FILE_BYTES + 1)
    return files


def test_eval_lookup_patch(rollout):
    inst = hw.make_instance(rollout.seed)
    files = pack_workspace(rollout.workspace)
    hidden_q = [q for *_, q in inst.hidden]

    # 1. the workspace as submitted, real-world answers
    out = rollout.grade(GRADER, files={**files, "questions.json": json.dumps(hidden_q)}, args=["predict"])
    cat, msg, m = grading.check_real(out, hw.hidden_labels(inst, "real"))
    for k in ("answer_rate", "accuracy"):
        if k in m:
            rollout.score(k, m[k])
    if cat:
        fail(cat, msg)

    # 2. retrain on a counterfactual world, then ask held-out and data/ questions
    seen_q = [q for *_, q in inst.seen]
    cf = {"cf/train.jsonl": hw.jsonl(inst.cf_train_rows), "cf/val.jsonl": hw.jsonl(inst.cf_val_rows)}
    out = rollout.grade(GRADER, files={**files, **cf, "questions.json": json.dumps(hidden_q + seen_q)},
                        args=["counterfactual"])
    cat, msg, m = grading.check_counterfactual(out, hw.hidden_labels(inst, "cf"), hw.seen_labels(inst, "cf"))
    for k, v in m.items():
        rollout.score(k, v)
    if cat:
        fail(cat, msg)
