"""tasks/leakage_auroc: churn prediction from a table whose training copy leaks the label.

train.csv carries three leaky columns: a post-outcome count (retention_calls) and two target
encodings computed with each row's own label (store_churn_rate, peer_churn_rate). test.csv holds
them as they really are at prediction time (empty; computed from train.csv's labels). The agent
writes predictions.csv (one churn probability per test customer); the grader parses it as plain
data here and computes AUROC against the test labels regenerated from the seed.
"""
from __future__ import annotations

import functools
import os
import stat
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helpers live beside this module (works under any import mode)
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from pytest_rltask import Limits, Task, category, fail  # noqa: E402

import leakage_auroc_data as data  # noqa: E402
import leakage_auroc_grading as grading  # noqa: E402

PROMPT = f"""\
You are a data scientist at a telecom company. Build a model that predicts which customers will
churn, and write its predictions for the customers in test.csv.

Workspace:
- train.csv: {data.N_TRAIN} customers with the outcome column `churned` (1 = the customer cancelled
  within 90 days after the snapshot date, 0 = stayed).
- test.csv: {data.N_TEST} other customers, the same columns without `churned`. These are the
  customers the model is actually used on: their snapshot was just taken, their outcome is unknown.

Columns (data dictionary from the analytics team):
- customer_id: unique id of the customer (not informative).
- tenure_months, monthly_spend, support_tickets, usage_hours, age, discount_pct: numeric, as of the
  snapshot date.
- plan (5 values), region (12 values), store_id (over a thousand stores, many with only a few
  customers): categorical, as of the snapshot date.
- retention_calls: number of calls the retention team logged for the customer in the 90 days after
  the snapshot date.
- store_churn_rate: churn rate of the customer's store, computed by the analytics team from the
  `churned` column of train.csv (a store with no customer in train.csv gets train.csv's overall
  churn rate).
- peer_churn_rate: share of churners among the {data.K_PEERS} customers of train.csv closest to
  the customer in (age, log monthly_spend), computed by the analytics team from the `churned`
  column of train.csv.

Be careful: not every column of train.csv is available, or computed the same way, at the moment a
prediction is made. test.csv holds every column exactly as it is available at prediction time, and
your score is measured on test.csv only.

Deliverable: predictions.csv in the workspace root, a regular UTF-8 CSV text file (not a symlink,
at most 2 MB) with the header line
customer_id,churn_probability
and then exactly one row per test.csv customer (all {data.N_TEST} of them, each customer_id exactly
once, any order), where churn_probability is a finite number between 0 and 1 (higher = more
likely to churn). It is graded by the area under the ROC curve (AUROC) of churn_probability
against the customers' true outcomes, which you cannot see; it passes when the AUROC is at least
{grading.THRESHOLD}. A file that breaks the format (missing or extra customers, duplicate ids,
non-numeric, NaN, infinite or out-of-range values, another header) fails.

Tools: write_file, read_file, list_files, run_python, bash. Python has numpy and scikit-learn
(pandas is not installed). You have at most 20 turns. When predictions.csv is written, call
submit_answer (the answer text is not graded; only predictions.csv is).
"""

TASK = Task(
    prompt=PROMPT,
    tools=["write_file", "read_file", "list_files", "run_python", "bash", "submit_answer"],
    files=data.write_workspace,
    max_steps=20,
    time_limit=900,
    limits=Limits(wall_s=300),
)


@functools.lru_cache(maxsize=8)
def hidden_test(seed: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Test customer ids (in test.csv order) and their labels: never leave this process."""
    _, test, _, y_test = data.generate(seed)
    return tuple(test["customer_id"].tolist()), np.asarray(y_test, dtype=np.int64)


def read_artifact(ws: Path) -> bytes:
    """The bytes of predictions.csv, refusing symlinks and non-regular files."""
    path = ws / "predictions.csv"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        fail("no_artifact", "predictions.csv was not written in the workspace root")
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        fail("bad_predictions", "predictions.csv is not a regular file (symlinks are not followed)")
    if st.st_size > grading.MAX_BYTES:
        fail("bad_predictions", f"predictions.csv is {st.st_size} bytes (limit {grading.MAX_BYTES})")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(grading.MAX_BYTES + 1)


def test_leakage_auroc(rollout):
    raw = read_artifact(rollout.workspace)
    ids, labels = hidden_test(rollout.seed)
    try:
        probs = grading.parse_predictions(raw, list(ids))
    except grading.BadPredictions as e:
        fail("bad_predictions", str(e))
    rollout.score("auroc", grading.auroc(probs, labels))
    grading.judge(raw, list(ids), labels)
