"""tasks/onnx_export: train a binary classifier on a CSV and ship it as a self-contained ONNX file.

The agent gets train.csv / test.csv (test labels hidden), writes model.onnx; the grader runs it
with onnxruntime in a fresh sandbox holding only model.onnx and the test features, and compares
its predictions with the labels regenerated here from the seed.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helpers live beside this module (works under any import mode)
    sys.path.insert(0, str(HERE))

from pytest_rltask import Limits, Task, category, fail  # noqa: E402

import onnx_export_lib as lib  # noqa: E402

GRADER = (HERE / "grade_onnx.py").read_text()
MAX_MODEL_BYTES = 100 * 1024 * 1024

PROMPT = f"""\
Your workspace holds two files:
- train.csv: {lib.N_TRAIN} rows with header f0,f1,...,f9,target. f0..f9 are float features; target is the class, 0 or 1.
- test.csv: {lib.N_TEST} rows with header f0,...,f9: the same kind of features, without labels.

Train a binary classifier on train.csv and export it to ONNX as model.onnx in the workspace root.
Installed Python packages: torch 2.13 (CPU), numpy, scikit-learn, onnx, onnxscript and onnxruntime
(pandas is not installed). A small neural network trained with PyTorch is a good approach.

How model.onnx is graded: only the file model.onnx is copied into a fresh grading environment,
where onnxruntime (CPU) runs it on the rows of test.csv, and the predictions are compared with
the hidden test labels. It passes when all of these hold:
1. Self-contained: model.onnx is a regular file (not a symlink, at most 100 MB) and every weight
   is stored inside it. A model whose tensors are stored as ONNX external data (in a separate file such as
   model.onnx.data) is rejected.
2. Input: exactly one input, float32 of shape [N, 10] holding the raw feature values f0..f9 in
   that order, exactly as they appear in the CSV (any preprocessing, e.g. standardization, must be
   part of the model). It must work for any number of rows N: it is run on all test rows at once
   and also on small batches (including a single row), which must get the same predictions.
3. Output: the model's first output gives the predictions, in one of these forms:
   - class labels 0/1 (integer or bool) of shape [N] or [N, 1];
   - two scores per row, shape [N, 2] (probabilities or logits): the predicted class is the
     column with the larger value (column 1 = class 1);
   - one float per row, shape [N] or [N, 1]: read as the probability of class 1 (class 1 when
     >= 0.5) if every value lies in [0, 1], otherwise as a logit (class 1 when >= 0).
   NaN or infinite values are rejected.
4. Accuracy on the test rows of at least {lib.THRESHOLD}.

You have at most 20 turns. When model.onnx is ready, call submit_answer (the answer text is not
graded; only model.onnx is).
"""


def make_workspace(ws: Path, seed: int) -> None:
    Xtr, ytr, Xte, _ = lib.make_data(seed)  # the test labels stay in this process
    (ws / "train.csv").write_text(lib.csv_text(Xtr, ytr))
    (ws / "test.csv").write_text(lib.csv_text(Xte, None))


TASK = Task(
    prompt=PROMPT,
    tools=["write_file", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=20,
    time_limit=900,
    limits=Limits(wall_s=300),
    grade_limits=Limits(wall_s=120, cpu_s=120),
)


def test_onnx_export(rollout):
    model = rollout.artifact("model.onnx", "no_artifact", max_bytes=MAX_MODEL_BYTES, too_large="invalid_model")

    _, _, Xte, yte = lib.make_data(rollout.seed)
    result = rollout.grade(GRADER, files={"model.onnx": model, "X.npy": lib.features_npy(Xte)})
    try:
        pred = lib.labels_from_result(result, len(yte))
    except lib.Verdict as v:
        fail(v.category, v.message)
    acc = lib.accuracy(pred, yte)
    rollout.score("accuracy", acc)
    with category("low_accuracy"):
        assert acc >= lib.THRESHOLD, f"test accuracy {acc:.4f} < {lib.THRESHOLD}"
