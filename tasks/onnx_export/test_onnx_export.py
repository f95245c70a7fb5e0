"""tasks/onnx_export: train a binary classifier on a CSV and ship it as a self-contained ONNX file.

The agent gets train.csv / test.csv of a secret instance and writes model.onnx. The grader runs
the model (as data) with onnxruntime in a fresh sandbox holding only model.onnx and the features
of rows the agent never saw, mixed with test.csv's rows; the verdict is the accuracy on the unseen
rows, computed here against labels that never leave this process.
"""
from __future__ import annotations

from pytest_rltask import category, fail

from . import grader
from .task import TASK, THRESHOLD

__all__ = ["TASK"]


def test_onnx_export(rollout):
    model = rollout.artifact("model.onnx", "no_artifact", max_bytes=grader.MAX_MODEL_BYTES,
                             too_large="invalid_model")
    X, y, hidden = grader.eval_rows(rollout.instance)
    result = rollout.grade(grader.SANDBOXED, files={"model.onnx": model, "X.npy": grader.features_npy(X)})
    try:
        pred = grader.labels_from_result(result, len(y))
    except grader.Verdict as v:
        fail(v.category, v.message)
    acc = grader.accuracy(pred[hidden], y[hidden])
    rollout.score("accuracy", acc)
    rollout.score("accuracy_workspace", grader.accuracy(pred[~hidden], y[~hidden]))
    with category("low_accuracy"):
        assert acc >= THRESHOLD, f"accuracy on unseen rows {acc:.4f} < {THRESHOLD}"
