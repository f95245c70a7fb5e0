"""Property tests of the pure part of the fsdp_conversion grader: fsdp_lib.verdict, which turns
the grading sandbox's JSON (agent-influenced: hostile values are possible) into a verdict.
Odd but legal inputs must give a clean failure category, never a crash."""
from __future__ import annotations

import copy
import json
import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import fsdp_lib as lib  # noqa: E402

pytestmark = pytest.mark.offline

CFG = lib.config(1, hidden=True)
CATEGORIES = {"no_script", "run_failed", "missing_interface", "no_process_group", "wrong_backend",
              "wrong_device", "not_sharded", "wrong_sharding", "optimizer_before_sharding",
              "data_not_sharded", "sampler_epoch", "checkpoint_missing", "checkpoint_rank",
              "checkpoint_not_full", "untrained", "no_clean_shutdown"}


def good_result(cfg=CFG, seed=0) -> dict:
    """A result.json as a correct solution produces it (synthetic)."""
    n = cfg["n_sequences"]
    rng = random.Random(seed)
    want = set(lib.expected_sharded(cfg))
    modules = [{"path": p, "cls": c, "fsdp": p in want} for p, (c, _) in lib.own_params(cfg).items()]
    calls = [{"seq": 2, "paths": [f"0:{p}"], "classes": ["X"]}
             for p in sorted(want, key=lambda p: (-p.count("."), -len(p)))]
    obs = {}
    perms = [rng.sample(range(n), n) for _ in range(lib.EPOCHS)]
    for r in (0, 1):
        its = [{"seq": 3 + e, "epoch": e, "num_replicas": 2, "rank": r, "dataset_len": n,
                "indices": perms[e][r::2]} for e in range(lib.EPOCHS)]
        obs[str(r)] = {
            "rank": r, "init": [{"seq": 1, "backend_arg": "gloo", "backend": "gloo"}],
            "destroy": [{"seq": 99, "default": True}], "shard_calls": copy.deepcopy(calls),
            "optimizers": [{"seq": 2, "cls": "AdamW", "n_params": 40, "n_dtensor": 40}],
            "sampler_iters": its, "set_epoch": list(range(lib.EPOCHS)),
            "fetches": [list(it["indices"]) for it in its], "fetch_before_sampler": 0,
            "saves": [{"seq": 50, "path": "checkpoint.pt", "obj": "dict"}] if r == 0 else [],
            "models": [{"modules": modules, "n_params": 40, "n_dtensor": 40}],
            "main": "returned", "error": None, "initialized_after_main": False,
            "probe": {"cuda": {"pick_device": {"type": "cuda", "index": 1, "repr": "cuda:1"},
                               "pick_backend": {"str": "nccl"}, "set_device": [1]},
                      "cpu": {"pick_device": {"type": "cpu", "index": None, "repr": "cpu"},
                              "pick_backend": {"str": "gloo"}, "set_device": []}},
            "pick_device_calls": 1, "pick_backend_calls": 1,
        }
    return {"version": 1, "exit_code": 0, "timed_out": False, "strays_killed": 0, "obs": obs,
            "checkpoint": {"n_keys": 40, "missing": [], "unexpected": [], "bad": [], "loss": 1.5},
            "files": ["checkpoint.pt"]}


def category_of(result, cfg=CFG):
    try:
        lib.verdict(result, cfg)
    except lib.Verdict as v:
        assert v.category in CATEGORIES, v.category
        return v.category
    return None


def test_good_result_passes():
    for s in range(1, 6):
        cfg = lib.config(s, hidden=True)
        assert category_of(good_result(cfg, s), cfg) is None


def test_known_defects_are_named():
    def mod(f):
        r = good_result()
        f(r)
        return category_of(r)

    o0, o1 = lambda r: r["obs"]["0"], lambda r: r["obs"]["1"]  # noqa: E731
    assert mod(lambda r: r.update(error="no_script")) == "no_script"
    assert mod(lambda r: r["obs"].pop("1")) == "run_failed"
    assert mod(lambda r: r.update(exit_code=1)) == "run_failed"
    assert mod(lambda r: o0(r).update(main="missing")) == "missing_interface"
    assert mod(lambda r: o0(r).update(init=[])) == "no_process_group"
    assert mod(lambda r: o1(r)["init"][0].update(backend="nccl")) == "wrong_backend"
    assert mod(lambda r: o0(r)["probe"]["cuda"]["pick_device"].update(index=3)) == "wrong_device"
    assert mod(lambda r: o0(r)["probe"]["cuda"].update(set_device=[3])) == "wrong_device"
    assert mod(lambda r: o0(r)["probe"]["cuda"]["pick_backend"].update(str="gloo")) == "wrong_backend"
    assert mod(lambda r: o0(r)["probe"]["cpu"].update(pick_device={"missing": True})) == "missing_interface"
    assert mod(lambda r: [m.update(fsdp=False) for m in o0(r)["models"][0]["modules"]]) == "not_sharded"
    assert mod(lambda r: o1(r)["models"][0]["modules"][3].update(fsdp=True)) == "wrong_sharding"  # blocks
    assert mod(lambda r: o0(r)["shard_calls"].reverse()) == "wrong_sharding"  # root first
    assert mod(lambda r: o0(r).update(shard_calls=None)) == "wrong_sharding"
    assert mod(lambda r: o0(r)["optimizers"][0].update(n_dtensor=0)) == "optimizer_before_sharding"
    assert mod(lambda r: o0(r).update(optimizers=[])) == "optimizer_before_sharding"
    assert mod(lambda r: o0(r).update(sampler_iters=[])) == "data_not_sharded"
    assert mod(lambda r: o1(r)["sampler_iters"][0].update(num_replicas=1)) == "data_not_sharded"
    assert mod(lambda r: o1(r)["fetches"][0].append(o0(r)["sampler_iters"][0]["indices"][0])) == "data_not_sharded"
    assert mod(lambda r: o1(r).update(fetch_before_sampler=3)) == "data_not_sharded"
    assert mod(lambda r: [it.update(epoch=0) for it in o0(r)["sampler_iters"]]) == "sampler_epoch"
    assert mod(lambda r: o0(r).update(saves=[])) == "checkpoint_missing"
    assert mod(lambda r: o1(r).update(saves=[{"path": "checkpoint.pt"}])) == "checkpoint_rank"
    assert mod(lambda r: r.update(checkpoint="missing")) == "checkpoint_missing"
    assert mod(lambda r: r["checkpoint"].update(load_error="Unsupported global DTensor")) == "checkpoint_not_full"
    assert mod(lambda r: r["checkpoint"].update(bad=["x: shape (3,) != (6,)"])) == "checkpoint_not_full"
    assert mod(lambda r: r["checkpoint"].update(loss=10.0)) == "untrained"
    assert mod(lambda r: r["checkpoint"].update(loss="nan")) == "untrained"
    assert mod(lambda r: r["checkpoint"].update(loss=True)) == "untrained"
    assert mod(lambda r: o1(r).update(destroy=[])) == "no_clean_shutdown"
    assert mod(lambda r: o1(r).update(initialized_after_main=True)) == "no_clean_shutdown"
    assert mod(lambda r: r.update(strays_killed=2)) == "no_clean_shutdown"


def test_nan_and_inf_loss():
    for bad in (math.nan, math.inf, -math.inf):
        r = good_result()
        r["checkpoint"]["loss"] = bad
        assert category_of(r) == "untrained"


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=8),
                      st.floats(allow_nan=True, allow_infinity=True))
json_any = st.recursive(json_leaf, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                        st.dictionaries(st.text(max_size=6), ch, max_size=4)),
                        max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(good_result()) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), json_any), min_size=1, max_size=4))
def test_any_mutation_gives_clean_verdict(muts):
    r = good_result()
    for path, value in muts:
        node = r
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue
    category_of(r)  # returns None or a known category; any other exception fails the test


@settings(max_examples=100, deadline=None)
@given(json_any)
def test_arbitrary_result_gives_clean_verdict(value):
    category_of(value)
    category_of({"obs": value, "exit_code": 0})
    category_of({**good_result(), "checkpoint": value})


def test_result_is_json_roundtrippable():
    assert category_of(json.loads(json.dumps(good_result()))) is None


def test_config_hidden_differs_and_discriminates():
    for s in range(1, 30):
        h, v = lib.config(s, hidden=True), lib.config(s, hidden=False)
        assert lib.expected_sharded(h) != lib.expected_sharded(v)
        assert lib.expected_sharded(h) != lib.recursive_sharded(h)
        assert lib.config(s, hidden=True) == h  # deterministic


def test_own_params_table_matches_the_real_model():
    """own_params() (used for the expected set) agrees with the torch model built from model.py."""
    torch = pytest.importorskip("torch")
    for s in (1, 2, 3, 4):
        for hidden in (False, True):
            cfg = lib.config(s, hidden=hidden)
            ns: dict = {"__name__": "fsdp_task_model"}
            exec(compile(lib.model_src(cfg), "model.py", "exec"), ns)  # our own source, not agent code
            with torch.device("meta"):
                m = ns["build_model"]()
            real = {n: (type(mod).__name__, sum(p.numel() for p in mod.parameters(recurse=False)))
                    for n, mod in m.named_modules()}
            assert real == lib.own_params(cfg)
