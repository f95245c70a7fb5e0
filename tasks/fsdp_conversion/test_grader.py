"""Tests of the pure parts of the fsdp_conversion grader: the instances, check_run and verdict.

verdict reads numbers that describe agent products, so any JSON is possible: odd but legal input
must give a clean failure category (never a crash, never a pass)."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import grader as G
from . import task as T

pytestmark = pytest.mark.offline

GOOD = {"version": 2, "nonfinite": [], "shards": {"issues": [], "max_diff": 0.0, "largest_fraction": 0.502},
        "diff_ref": 0.0, "diff_init": 0.09, "ref_moved": 0.09, "loss": 3.0, "loss_ref": 3.0}
PRODUCTS = {T.CHECKPOINT: b"x", **{s: b"x" for s in T.SHARDS}}


def category_of(res) -> str | None:
    try:
        G.verdict(res)
    except G.Verdict as v:
        assert v.category in G.CATEGORIES, v.category
        return v.category
    return None


def with_(**kw) -> dict:
    r = copy.deepcopy(GOOD)
    r.update(kw)
    return r


def test_good_result_passes():
    assert category_of(GOOD) is None
    assert category_of(with_(diff_ref=G.TOLERANCE)) is None


@pytest.mark.parametrize("res, cat", [
    (None, "checkpoint_not_full"),
    ({"checkpoint_error": "missing"}, "checkpoint_not_full"),
    (with_(checkpoint_error="not loadable with weights_only=True"), "checkpoint_not_full"),
    (with_(nonfinite=["out_scale"]), "not_finite"),
    (with_(nonfinite=None), "checkpoint_not_full"),
    (with_(shards={"issues": ["shard_rank1.pt missing"]}), "not_sharded"),
    (with_(shards={"issues": [], "max_diff": 0.0, "largest_fraction": 1.0}), "not_sharded"),
    (with_(shards={"issues": [], "max_diff": 0.0, "largest_fraction": 0.0}), "not_sharded"),
    (with_(shards={"issues": [], "max_diff": 0.01, "largest_fraction": 0.5}), "checkpoint_mismatch"),
    (with_(shards={"issues": [], "max_diff": float("nan"), "largest_fraction": 0.5}), "checkpoint_mismatch"),
    (with_(shards="ok"), "not_sharded"),
    (with_(diff_ref=0.05, diff_init=0.0), "untrained"),
    (with_(diff_ref=0.05, diff_no_set_epoch=0.0), "sampler_epoch"),
    (with_(diff_ref=0.05, diff_no_set_epoch=0.04), "wrong_training"),
    (with_(diff_ref=0.05), "wrong_training"),
    (with_(diff_ref=float("nan")), "wrong_training"),
    (with_(diff_ref=float("inf")), "wrong_training"),
    (with_(diff_ref=True), "wrong_training"),
    (with_(diff_ref="0"), "wrong_training"),
    (with_(diff_ref=None), "wrong_training"),
])
def test_defects_are_named(res, cat):
    assert category_of(res) == cat


@pytest.mark.parametrize("kw, cat", [
    ({"exit_code": None, "timed_out": True}, "run_failed"),
    ({"exit_code": 1}, "run_failed"),
    ({"exit_code": -9}, "run_failed"),
    ({"files": {}}, "checkpoint_missing"),
    ({"files": {T.CHECKPOINT: b"x", T.SHARDS[0]: b"x"}}, "not_sharded"),
])
def test_check_run(kw, cat):
    args = {"exit_code": 0, "timed_out": False, "stderr": "", "files": PRODUCTS, **kw}
    with pytest.raises(G.Verdict) as e:
        G.check_run(**args)
    assert e.value.category == cat
    G.check_run(0, False, "", PRODUCTS)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(GOOD) + ["diff_no_set_epoch", "checkpoint_error"]), value=JSON)
def test_any_field_mutation_is_a_category_or_a_pass(key, value):
    res = with_(**{key: value})
    cat = category_of(res)
    if cat is None:  # only a mutation that leaves the decisive numbers good may pass
        assert key not in ("nonfinite", "shards", "checkpoint_error") or res[key] in ([], GOOD.get(key))
        assert isinstance(res["diff_ref"], (int, float)) and res["diff_ref"] <= G.TOLERANCE


@settings(max_examples=200, deadline=None)
@given(res=JSON)
def test_any_json_is_a_category(res):
    assert category_of(res) is not None


@settings(max_examples=200, deadline=None)
@given(instance=st.integers(min_value=0, max_value=2**63 - 1))
def test_instances_are_valid_and_hidden_differs(instance):
    vis, hid = T.config(instance, hidden=False), T.config(instance, hidden=True)
    assert hid == T.config(instance, hidden=True)  # reproducible
    for cfg in (vis, hid):
        assert cfg["seq_len"] <= cfg["ctx"]
        assert cfg["d_model"] % cfg["n_heads"] == 0
        assert cfg["n_sequences"] % (T.WORLD * T.BATCH) == 0  # full batches: drop_last cannot matter
    assert T._shape(vis) != T._shape(hid)
    assert json.loads(T.hidden_files(instance)["model.py"].split("CONFIG = ", 1)[1].split("\n\n\n")[0]) == hid


def test_params_match_the_prompt():
    p = G.params()
    for s in (T.RUN_COMMAND, f"lr {p['lr']}", f"batch size {p['batch']}", f"seed={p['sampler_seed']}",
              *p["shards"], p["checkpoint"]):
        assert s in T.PROMPT
    assert "fully_shard" in T.PROMPT and f"{p['epochs']} epochs" in T.PROMPT
