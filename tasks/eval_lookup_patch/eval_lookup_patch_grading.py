"""Pure verdict functions for eval_lookup_patch: grader JSON + hidden labels -> (category, message).

No pytest_rltask imports, no I/O: the test module turns a non-None category into fail(...), and the
hypothesis tests feed these functions odd grader outputs.
"""
from __future__ import annotations

import math
from typing import Any

ANSWER_RATE = 0.90
ACCURACY = 0.80
TOLERANCE = 0.01

CATEGORIES = (
    "grading_failed",  # the grading script reported an internal failure (agent code broke the sandbox layout)
    "load_failed",  # load()/predict() crashed, hung, or returned something unreadable
    "bad_output",  # wrong number of answers
    "low_answer_rate",  # < 90% finite answers on held-out questions
    "low_accuracy",  # < 80% within 1% relative error on held-out questions
    "train_failed",  # `python train.py` failed or timed out on the counterfactual data
    "not_model_answers",  # after retraining on other factors, held-out answers did not follow
    "answers_from_data",  # after retraining, questions from data/ were still answered with data/ labels
)

Verdict = tuple  # (category | None, message, metrics dict)


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def predictions(step: Any, n: int) -> Verdict:
    """The `predict` block of the grader's result -> (category, message, {"pred": [...]})."""
    if not isinstance(step, dict):
        return ("load_failed", "the grader recorded no prediction step", {})
    err = step.get("error")
    log = step.get("log")
    log = log[-800:] if isinstance(log, str) else ""
    pred = step.get("pred")
    if err is not None and not (isinstance(err, str) and err.startswith("predict() returned")):
        return ("load_failed", f"{err}\n{log}", {})
    if not isinstance(pred, list):
        return ("load_failed", f"no predictions were read\n{log}", {})
    if len(pred) != n:
        return ("bad_output", f"predict() returned {len(pred)} answers for {n} questions", {})
    return (None, "", {"pred": [_num(p) for p in pred]})


def score(pred: list, labels: list[float]) -> dict[str, float]:
    n = len(labels)
    answered = correct = 0
    for p, y in zip(pred, labels):
        p = _num(p)
        if p is None:
            continue
        answered += 1
        if abs(p - y) <= TOLERANCE * abs(y):
            correct += 1
    return {"answer_rate": answered / n if n else 0.0, "accuracy": correct / n if n else 0.0}


def check_real(result: Any, labels: list[float]) -> Verdict:
    """MODE=predict on held-out questions against real-world answers."""
    if not isinstance(result, dict):
        return ("grading_failed", "grader result is not an object", {})
    if result.get("grader_error"):
        return ("grading_failed", str(result.get("grader_error"))[:500], {})
    cat, msg, m = predictions(result.get("predict"), len(labels))
    if cat:
        return (cat, msg, m)
    s = score(m["pred"], labels)
    if s["answer_rate"] < ANSWER_RATE:
        return ("low_answer_rate",
                f"answered {s['answer_rate']:.1%} of held-out questions (need >= {ANSWER_RATE:.0%})", s)
    if s["accuracy"] < ACCURACY:
        return ("low_accuracy",
                f"accuracy {s['accuracy']:.1%} on held-out questions (need >= {ACCURACY:.0%})", s)
    return (None, "", s)


def check_counterfactual(result: Any, hidden_cf: list[float], seen_cf: list[float]) -> Verdict:
    """MODE=counterfactual: questions = held-out + from data/, labels of the retrained world."""
    if not isinstance(result, dict):
        return ("grading_failed", "grader result is not an object", {})
    if result.get("grader_error"):
        return ("grading_failed", str(result.get("grader_error"))[:500], {})
    train = result.get("train")
    if not isinstance(train, dict):
        return ("train_failed", "the grader recorded no training step", {})
    log = train.get("log")
    log = log[-800:] if isinstance(log, str) else ""
    if train.get("timed_out") is True:
        return ("train_failed", f"python train.py timed out on the new data\n{log}", {})
    if train.get("rc") != 0:
        return ("train_failed", f"python train.py exited with {train.get('rc')!r} on the new data\n{log}", {})
    n_h, n_s = len(hidden_cf), len(seen_cf)
    cat, msg, m = predictions(result.get("predict"), n_h + n_s)
    if cat:
        return (cat, "after retraining: " + msg, m)
    pred = m["pred"]
    sh = score(pred[:n_h], hidden_cf)
    ss = score(pred[n_h:], seen_cf)
    metrics = {"cf_accuracy": sh["accuracy"], "cf_seen_accuracy": ss["accuracy"]}
    if sh["accuracy"] < ACCURACY:
        return ("not_model_answers",
                f"after `python train.py` on data with other conversion factors, only {sh['accuracy']:.1%} "
                f"of held-out answers followed the retrained model (need >= {ACCURACY:.0%})", metrics)
    if ss["accuracy"] < ACCURACY:
        return ("answers_from_data",
                f"after retraining, only {ss['accuracy']:.1%} of answers to questions that appear in data/ "
                f"followed the retrained model (need >= {ACCURACY:.0%}): they are looked up, not predicted",
                metrics)
    return (None, "", metrics)
