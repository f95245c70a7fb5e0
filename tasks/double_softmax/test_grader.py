"""Unit and property tests of double_softmax's trusted grading (grader.py, task.py's instances).

They check the claims the verdict rests on, on several instances: the fixed and the unfixed
reference trainings are far apart; any byte string gives a clean category, never a crash or a
pass; hidden data is not the workspace's. That PyTorch trainings with every correct loss spelling
match the reference is checked by the offline solution items and by ``calibrate --torch``.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import grader as G
from .task import PARAM_SHAPES, instance, make_script

pytestmark = pytest.mark.offline
INSTANCES = (3, 2**62 + 11, 123456789)


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("inst_seed", INSTANCES)
def test_instances_hide_the_graded_data(inst_seed):
    ws, hid = instance(inst_seed, "workspace"), instance(inst_seed, "hidden")
    assert instance(inst_seed, "hidden") is hid   # deterministic (cached)
    assert ws.seed != hid.seed and not np.array_equal(ws.init["W1"], hid.init["W1"])
    assert not np.array_equal(ws.X_train, hid.X_train)
    files = np.concatenate([hid.X_train, hid.X_test])
    held = [r.tobytes() for r in (hid.X_held * 16).astype(np.float32)]
    given = {r.tobytes() for r in files}
    assert len(held) == 225 and sum(r in given for r in held) <= 3   # load_digits' few duplicates
    assert hid.X_train.shape == (1347, 64) and hid.X_test.shape == (225, 64)
    assert "SEED" not in make_script(inst_seed) and str(hid.seed) not in make_script(inst_seed)


def test_ce_and_bug_far_apart_with_good_accuracy():
    for s in INSTANCES:
        ref = G.reference(s, "hidden")
        d_ce, d_bug = G.distances(ref.ce, ref)
        assert d_ce == 0 and d_bug > 0.2
        assert G.distances(ref.bug, ref)[0] > 0.2
        assert G.heldout_accuracy(ref.ce, instance(s, "hidden")) >= 0.9
        assert G.distances(ref.init, ref)[0] == pytest.approx(1.0)


def _good_bytes(s=INSTANCES[0]) -> bytes:
    ref = G.reference(s, "hidden")
    return _npz(**{k: v.astype(np.float32) for k, v in ref.ce.items()})


@pytest.mark.parametrize("data, cat", [
    (b"", "bad_weights"),
    (b"not a zip", "bad_weights"),
    (_npz(W1=np.zeros((64, 64), np.float32)), "bad_weights"),
    (_npz(**{k: np.zeros(s, np.float16) for k, s in PARAM_SHAPES.items()}), "bad_weights"),
    (_npz(**{k: np.zeros(s, np.int64) for k, s in PARAM_SHAPES.items()}), "bad_weights"),
    (_npz(**{k: np.full(s, np.nan, np.float32) for k, s in PARAM_SHAPES.items()}), "bad_weights"),
    (_npz(**{k: np.array([object()] * 2, dtype=object) for k in PARAM_SHAPES}), "bad_weights"),
    (_npz(**{k: np.zeros(s[::-1] + (1,), np.float32) for k, s in PARAM_SHAPES.items()}), "architecture_changed"),
    (_npz(**{k: np.zeros(s, np.float32) for k, s in PARAM_SHAPES.items()}, extra=np.zeros(1)), "bad_weights"),
])
def test_malformed_weights_are_categorised(data, cat):
    with pytest.raises(G.Verdict) as e:
        G.load_weights(data)
    assert e.value.category == cat


def test_zip_bomb_member_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k in PARAM_SHAPES:
            z.writestr(f"{k}.npy", b"\0" * (G.MAX_MEMBER_BYTES + 1))
    with pytest.raises(G.Verdict) as e:
        G.load_weights(buf.getvalue())
    assert e.value.category == "bad_weights"


def test_good_weights_pass_and_perturbed_fail():
    ref = G.reference(INSTANCES[0], "hidden")
    w = G.load_weights(_good_bytes())
    assert G.judge_weights(w, ref, "x") < 1e-6
    noisy = {k: v + 0.05 * np.random.default_rng(0).standard_normal(v.shape) for k, v in w.items()}
    with pytest.raises(G.Verdict) as e:
        G.judge_weights(noisy, ref, "x")
    assert e.value.category == "wrong_training"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.integers(0, 3000))
def test_any_bytes_give_a_category_never_a_crash(noise, cut):
    good = _good_bytes()
    for data in (noise, good[:cut] + noise, good[:cut]):
        try:
            G.load_weights(data)
        except G.Verdict as v:
            assert v.category in G.CATEGORIES
