"""Trusted grading logic of leakage_auroc (runs in the pytest process on plain data only).

The agent's predict.py runs only through ``Rollout.run`` (a fresh sandbox, as its own tools start
it); what comes back is bytes. predictions.csv is *data*: decoded and parsed with the csv module,
nothing from the workspace is imported or executed here. Every malformed input ends in
BadPredictions.
"""
from __future__ import annotations

import csv
import io
import math

import numpy as np

from pytest_rltask import category, fail

PREDICT = "predict.py"
OUTPUT = "predictions.csv"

THRESHOLD = 0.76          # AUROC on the hidden customers needed to pass (README: calibration; failure modes score <= 0.68)
MAX_BYTES = 2 * 1024 * 1024
HEADER = ("customer_id", "churn_probability")


class BadPredictions(ValueError):
    """predictions.csv exists but does not follow the stated format."""


def parse_predictions(raw: bytes, expected_ids: list[str]) -> np.ndarray:
    """Probabilities in the order of ``expected_ids``; BadPredictions for any format violation."""
    if not isinstance(raw, (bytes, bytearray)):
        raise BadPredictions("predictions.csv could not be read as bytes")
    if len(raw) > MAX_BYTES:
        raise BadPredictions(f"predictions.csv is {len(raw)} bytes (more than {MAX_BYTES})")
    try:
        text = bytes(raw).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadPredictions(f"predictions.csv is not UTF-8 text: {e}") from None
    if "\x00" in text:
        raise BadPredictions("predictions.csv contains NUL bytes")
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(c.strip() for c in r)]
    except csv.Error as e:
        raise BadPredictions(f"predictions.csv is not valid CSV: {e}") from None
    if not rows:
        raise BadPredictions("predictions.csv is empty")
    header = tuple(c.strip() for c in rows[0])
    if sorted(header) != sorted(HEADER):
        raise BadPredictions(f"header must be {','.join(HEADER)}, got {','.join(header)[:200]!r}")
    i_id, i_p = header.index("customer_id"), header.index("churn_probability")
    expected = set(expected_ids)
    probs: dict[str, float] = {}
    for lineno, r in enumerate(rows[1:], start=2):
        if len(r) != 2:
            raise BadPredictions(f"row {lineno} has {len(r)} fields, expected 2")
        cid, val = r[i_id].strip(), r[i_p].strip()
        if cid not in expected:
            raise BadPredictions(f"row {lineno}: customer_id {cid[:40]!r} is not a test.csv customer")
        if cid in probs:
            raise BadPredictions(f"row {lineno}: customer_id {cid!r} appears more than once")
        try:
            p = float(val)
        except (ValueError, OverflowError):
            raise BadPredictions(f"row {lineno}: churn_probability {val[:40]!r} is not a number") from None
        if not math.isfinite(p):
            raise BadPredictions(f"row {lineno}: churn_probability is {val[:40]!r} (not finite)")
        if not 0.0 <= p <= 1.0:
            raise BadPredictions(f"row {lineno}: churn_probability {p!r} is outside [0, 1]")
        probs[cid] = p
    missing = len(expected) - len(probs)
    if missing:
        raise BadPredictions(f"{len(probs)} predictions for {len(expected)} test customers ({missing} missing)")
    return np.array([probs[c] for c in expected_ids], dtype=np.float64)


def auroc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half), via sklearn."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=np.float64)))


def judge(raw: bytes, ids: list[str], labels: np.ndarray) -> float:
    """The verdict on a predictions file: its AUROC if it passes; else fail() with the category
    bad_predictions (format) or low_auroc (below THRESHOLD)."""
    try:
        probs = parse_predictions(raw, list(ids))
    except BadPredictions as e:
        fail("bad_predictions", str(e))
    score = auroc(probs, labels)
    with category("low_auroc"):
        assert score >= THRESHOLD, f"test AUROC {score:.4f} < {THRESHOLD}"
    return score


def predictions_of_run(run) -> bytes:
    """predictions.csv from an ``AgentRun`` of predict.py, or fail() with the category: the run
    must exit 0 within its limits and write predictions.csv itself (the grader leaves an empty
    placeholder there, so a file from the agent's own runs never counts)."""
    if run.timed_out or run.limit:
        fail("sandbox_limit", f"predict.py was stopped by the sandbox ({run.limit or 'wall time'})")
    if run.exit_code != 0:
        fail("no_artifact", f"predict.py exited with status {run.exit_code}: {run.stderr[-600:]}")
    if OUTPUT not in run.files:
        why = run.missing.get(OUTPUT, "was not written")
        fail("no_artifact" if why == "was not written" else "bad_predictions", f"{OUTPUT} {why}")
    raw = run.files[OUTPUT]
    if raw == b"":
        fail("no_artifact", f"predict.py did not write {OUTPUT} for the customers of test.csv")
    return raw


def auroc_or_none(raw: bytes | None, ids: list[str], labels: np.ndarray) -> float | None:
    """AUROC of a predictions file if it is well-formed, else None (for reported scores only)."""
    if raw is None:
        return None
    try:
        return auroc(parse_predictions(raw, ids), labels)
    except BadPredictions:
        return None
