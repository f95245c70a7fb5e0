"""Property tests of leakage_auroc's pure grading code and its instances (no rollout, no sandbox).

Whatever bytes predictions.csv holds, the verdict is a pass or one of the named failure
categories (bad_predictions, low_auroc): never a crash, never a pass for a malformed file. Whatever
an AgentRun of predict.py looks like, predictions_of_run gives bytes or a category. Instances are
deterministic per instance, differ across instances, name no seed, and keep the hidden customers
out of the workspace (several instances).
"""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_rltask import RolloutFailure

from . import grader as grading
from .task import COLUMNS, N_HIDDEN, N_TEST, N_TRAIN, generate, to_csv, write_workspace

pytestmark = pytest.mark.offline

IDS = [f"C{i:05d}" for i in range(40)]
LABELS = np.array([i % 3 == 0 for i in range(40)], dtype=np.int64)
CATS = {"bad_predictions", "low_auroc"}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verdict(raw: bytes) -> str:
    try:
        grading.judge(raw, IDS, LABELS)
    except RolloutFailure as e:
        return e.category
    return "passed"


def csv_bytes(rows, header="customer_id,churn_probability") -> bytes:
    return (header + "\n" + "".join(f"{a},{b}\n" for a, b in rows)).encode()


def perfect() -> list[tuple[str, str]]:
    return [(i, f"{0.9 if y else 0.1}") for i, y in zip(IDS, LABELS)]


def test_perfect_file_passes_and_any_order_and_crlf():
    assert verdict(csv_bytes(perfect())) == "passed"
    assert verdict(csv_bytes(perfect()[::-1])) == "passed"
    assert verdict(csv_bytes(perfect()).replace(b"\n", b"\r\n")) == "passed"
    assert verdict(b"\xef\xbb\xbf" + csv_bytes(perfect())) == "passed"  # UTF-8 BOM
    assert verdict(csv_bytes([(b, a) for a, b in perfect()], "churn_probability,customer_id")) == "passed"


def test_constant_and_inverted_fail_low_auroc():
    assert verdict(csv_bytes([(i, "0.5") for i in IDS])) == "low_auroc"
    assert verdict(csv_bytes([(i, f"{0.1 if y else 0.9}") for i, y in zip(IDS, LABELS)])) == "low_auroc"


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999", "1.0000001", "-0.01", "", "abc",
                                 "0.5 0.5", "True", "0x1p-1", "[0.5]"])
def test_bad_values_are_bad_predictions(bad):
    rows = perfect()
    rows[7] = (rows[7][0], bad)
    assert verdict(csv_bytes(rows)) == "bad_predictions"


@pytest.mark.parametrize("mutate", [
    lambda r: r[:-1],                      # missing row
    lambda r: r + [r[0]],                  # duplicate id
    lambda r: r[:-1] + [("C99999", "0.5")],  # unknown id
    lambda r: [],                          # header only
])
def test_wrong_rows_are_bad_predictions(mutate):
    assert verdict(csv_bytes(mutate(perfect()))) == "bad_predictions"


@pytest.mark.parametrize("raw", [b"", b"\n\n", b"\x00" * 10, b"\xff\xfe\x00", b"id,prob\nC00000,0.5\n",
                                 b"customer_id,churn_probability,extra\n",
                                 b"customer_id\n" + b"\n".join(i.encode() for i in IDS),
                                 b"x" * (grading.MAX_BYTES + 1)])
def test_malformed_files_are_bad_predictions(raw):
    assert verdict(raw) == "bad_predictions"


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash(raw):
    assert verdict(raw) in CATS | {"passed"}
    assert verdict(raw) != "passed"  # random bytes cannot name all 40 ids exactly once


@SETTINGS
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                          st.text(max_size=6)), min_size=40, max_size=40))
def test_odd_values_give_a_category_or_a_checked_pass(vals):
    raw = csv_bytes([(i, v) for i, v in zip(IDS, vals)])
    out = verdict(raw)
    assert out in CATS | {"passed"}
    if out == "passed":  # only possible when every value is a finite number in [0, 1]
        nums = [float(str(v).strip()) for v in vals]
        assert all(math.isfinite(x) and 0 <= x <= 1 for x in nums)
        assert grading.auroc(np.array(nums), LABELS) >= grading.THRESHOLD


@SETTINGS
@given(st.permutations(list(range(40))), st.integers(0, 39), st.sampled_from(["drop", "dup", "swap_id"]))
def test_row_set_violations_never_pass(order, k, how):
    rows = [perfect()[i] for i in order]
    if how == "drop":
        rows.pop(k)
    elif how == "dup":
        rows.append(rows[k])
    else:
        rows[k] = ("C" + rows[k][0], rows[k][1])
    assert verdict(csv_bytes(rows)) == "bad_predictions"


@SETTINGS
@given(st.lists(st.floats(0, 1), min_size=40, max_size=40))
def test_legal_probabilities_pass_iff_auroc_reaches_threshold(ps):
    out = verdict(csv_bytes([(i, repr(p)) for i, p in zip(IDS, ps)]))
    a = grading.auroc(np.array(ps), LABELS)
    assert out == ("passed" if a >= grading.THRESHOLD else "low_auroc")


# ------------------------------------------------------------------ predict.py runs
def _run(exit_code=0, files=None, missing=None, timed_out=False, limit=None):
    return types.SimpleNamespace(exit_code=exit_code, files=files or {}, missing=missing or {},
                                 timed_out=timed_out, limit=limit, stderr="boom")


@pytest.mark.parametrize("run,expected", [
    (_run(files={"predictions.csv": b"x"}), None),
    (_run(files={"predictions.csv": b""}), "no_artifact"),            # the placeholder, untouched
    (_run(missing={"predictions.csv": "was not written"}), "no_artifact"),
    (_run(missing={"predictions.csv": "is not a regular file inside the workspace"}), "bad_predictions"),
    (_run(exit_code=1, files={"predictions.csv": b"x"}), "no_artifact"),  # fail closed on a crash
    (_run(exit_code=None, timed_out=True), "sandbox_limit"),
    (_run(exit_code=137, limit="memory"), "sandbox_limit"),
])
def test_predictions_of_run(run, expected):
    if expected is None:
        assert grading.predictions_of_run(run) == b"x"
    else:
        with pytest.raises(RolloutFailure) as e:
            grading.predictions_of_run(run)
        assert e.value.category == expected


# ------------------------------------------------------------------ instances
def test_instances_are_deterministic_and_distinct():
    a, b = generate(2**62 + 99), generate.__wrapped__(2**62 + 99)
    assert to_csv(a.train, a.y_train) == to_csv(b.train, b.y_train) and to_csv(a.hidden) == to_csv(b.hidden)
    assert not np.array_equal(generate(2**62 + 100).y_train, a.y_train)


@pytest.mark.parametrize("instance", [7, 2**62 + 99, 5_551_203_384_118_770_001])
def test_instances_are_secret_and_hidden_rows_stay_hidden(tmp_path, instance):
    a = generate(instance)
    assert len(a.y_train) == N_TRAIN and len(a.y_test) == N_TEST and len(a.y_hidden) == N_HIDDEN
    write_workspace(tmp_path, instance)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv", "train.csv"]
    train, test = (tmp_path / "train.csv").read_text(), (tmp_path / "test.csv").read_text()
    assert test.splitlines()[0] == ",".join(COLUMNS) and "churned" not in test
    assert to_csv(a.hidden).splitlines()[0] == test.splitlines()[0]  # same format as test.csv
    ids = set(a.train["customer_id"]) | set(a.test["customer_id"])
    assert len(ids) == N_TRAIN + N_TEST
    assert not ids & set(a.hidden["customer_id"])           # new customers
    assert all(i not in train and i not in test for i in a.hidden["customer_id"][:200])
    prefixes = {i[:4] for i in a.test["customer_id"]}
    assert len(prefixes) > 100  # ids share no instance-specific prefix
    assert str(instance) not in train + test or instance < 100
    assert all(v == "" for v in (r.split(",")[10] for r in test.splitlines()[1:]))  # no retention_calls
    assert 0.3 < a.y_hidden.mean() < 0.6
