"""onnx_export: the Task, its prompt, and the secret instance (workspace rows plus hidden rows).

Every instance comes from ``rollout.instance`` (a 63-bit secret drawn per rollout on the host).
One ``make_classification`` call draws the train rows, the test rows given to the agent and
``N_HIDDEN`` further rows whose features never reach the workspace; the verdict is the accuracy
on those. The generator runs on a Philox bit generator keyed by the instance, so the workspace
holds no seed to scan for (a scan of small seeds finds nothing; see README), and row order, file
names and contents are the same for every instance except the drawn values.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from pytest_rltask import Limits, Task

N_FEATURES = 10
N_TRAIN = 3000
N_TEST = 1000
N_HIDDEN = 1000
THRESHOLD = 0.875
STREAM = 0x0_6E_78  # domain tag of this task's generator stream
# make_classification parameters (calibrated with calibrate.py: a logistic regression stays
# below THRESHOLD on every instance, a small MLP clears it with a margin).
DATA_PARAMS = dict(
    n_features=N_FEATURES,
    n_informative=N_FEATURES,
    n_redundant=0,
    n_repeated=0,
    n_clusters_per_class=8,
    class_sep=2.0,
    flip_y=0.01,
)
FEATURES = [f"f{i}" for i in range(N_FEATURES)]


@dataclasses.dataclass(frozen=True)
class Instance:
    """One instance: the rows the agent gets and the hidden rows it is graded on."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_hidden: np.ndarray
    y_hidden: np.ndarray


def instance_rng(instance: int) -> np.random.RandomState:
    """A RandomState on Philox keyed by the secret instance (make_classification needs RandomState)."""
    return np.random.RandomState(np.random.Philox(np.random.SeedSequence([int(instance), STREAM])))


@functools.lru_cache(maxsize=8)
def make_instance(instance: int) -> Instance:
    """All rows of ``instance`` from one generation call, features rounded to 6 significant digits
    exactly as written to the CSV files (float64 here; the grader feeds float32)."""
    from sklearn.datasets import make_classification

    n = N_TRAIN + N_TEST + N_HIDDEN
    X, y = make_classification(n_samples=n, random_state=instance_rng(instance), **DATA_PARAMS)
    X = np.char.mod("%.6g", X).astype(np.float64)  # shuffled rows: the split carries no order
    y = y.astype(np.int64)
    for a in (X, y):
        a.flags.writeable = False
    a, b = N_TRAIN, N_TRAIN + N_TEST
    return Instance(X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:])


def csv_text(X: np.ndarray, y: np.ndarray | None) -> str:
    header = ",".join(FEATURES + (["target"] if y is not None else []))
    cells = np.char.mod("%.6g", np.asarray(X, dtype=np.float64))
    lines = [header]
    for i, row in enumerate(cells.tolist()):
        lines.append(",".join(row + ([str(int(y[i]))] if y is not None else [])))
    return "\n".join(lines) + "\n"


def make_workspace(ws: Path, instance: int) -> None:
    """train.csv and test.csv of the instance; the test labels and the hidden rows stay here."""
    inst = make_instance(instance)
    (ws / "train.csv").write_text(csv_text(inst.X_train, inst.y_train))
    (ws / "test.csv").write_text(csv_text(inst.X_test, None))


PROMPT = f"""\
Your workspace holds two files:
- train.csv: {N_TRAIN} rows with header f0,f1,...,f9,target. f0..f9 are float features; target is the class, 0 or 1.
- test.csv: {N_TEST} rows with header f0,...,f9: the same kind of features, without labels.

Train a binary classifier on train.csv and export it to ONNX as model.onnx in the workspace root.
Installed Python packages: torch 2.13 (CPU), numpy, scikit-learn, onnx, onnxscript and onnxruntime
(pandas is not installed). A small neural network trained with PyTorch is a good approach.

How model.onnx is graded: only the file model.onnx is copied into a fresh grading environment,
where onnxruntime (CPU) runs it on the rows of test.csv and on further rows drawn from the same
distribution that you never see, and the predictions are compared with the hidden labels. It
passes when all of these hold:
1. Self-contained: model.onnx is a regular file (not a symlink, at most 100 MB) and every tensor
   is stored inside it. A model with any tensor stored as ONNX external data (in a separate file
   such as model.onnx.data, anywhere in the model, functions and subgraphs included) is rejected.
2. Input: exactly one input, float32 of shape [N, 10] holding the raw feature values f0..f9 in
   that order, exactly as they appear in the CSV (any preprocessing, e.g. standardization, must be
   part of the model). It must work for any number of rows N: it is run on all rows at once
   and also on small batches (including a single row), which must get the same predictions.
3. Output: the model's first output gives the predictions, in one of these forms:
   - class labels 0/1 (integer or bool) of shape [N] or [N, 1];
   - two scores per row, shape [N, 2] (probabilities or logits): the predicted class is the
     column with the larger value (column 1 = class 1);
   - one float per row, shape [N] or [N, 1]: read as the probability of class 1 (class 1 when
     >= 0.5) if every value lies in [0, 1], otherwise as a logit (class 1 when >= 0).
   NaN or infinite values are rejected.
4. Accuracy of at least {THRESHOLD} on the unseen rows (the accuracy on test.csv's rows is reported
   beside it but does not decide).

You have at most 20 turns. When model.onnx is ready, call submit_answer (the answer text is not
graded; only model.onnx is).
"""

TASK = Task(
    prompt=PROMPT,
    tools=["write_file", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=20,
    time_limit=900,
    limits=Limits(wall_s=300),
    grade_limits=Limits(wall_s=120, cpu_s=120),
)
