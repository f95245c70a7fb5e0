"""Unit tests of the trusted parts of tasks/memory_optimizations (no sandbox, no agent code)."""
from __future__ import annotations

import io
import json
import runpy
import zipfile

import numpy as np
import pytest

from . import grader
from .task import (BASELINE, HERE, HIDDEN_BATCHES, HIDDEN_LRS, HIDDEN_STEPS, PUBLIC, hidden_config,
                   instance_data, npz_bytes, param_shapes, prompt, run_files)

pytestmark = pytest.mark.offline
INSTANCES = (1, 3, 8, 2**62 + 12345)


@pytest.fixture(scope="module")
def torch_net():
    torch = pytest.importorskip("torch")
    return torch, runpy.run_path(str(HERE / "baseline_train.py"))["Net"]


def _net(torch_net, cfg, weights):
    torch, Net = torch_net
    m = Net(cfg["image"], cfg["dim"], cfg["heads"], cfg["depth"], cfg["classes"])
    m.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in weights.items()})
    return m.eval()


@pytest.mark.parametrize("cfg", [PUBLIC, hidden_config(1)], ids=["public", "hidden"])
def test_shapes_and_forward_match_torch(torch_net, cfg):
    """The trusted numpy model is the baseline's Net: same names, shapes and logits."""
    torch = torch_net[0]
    X, _, init, Xe, _ = instance_data(cfg, 5, "hidden", 12)
    m = _net(torch_net, cfg, init)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == param_shapes(cfg)
    with torch.no_grad():
        want = m(torch.from_numpy(Xe)).double().numpy()
    np.testing.assert_allclose(grader.forward(init, cfg, Xe), want, rtol=1e-3, atol=1e-4)


def test_instances_deterministic_hidden_and_distinct():
    for inst in INSTANCES:
        cfg = hidden_config(inst)
        assert cfg == hidden_config(inst)
        assert cfg["batch"] in HIDDEN_BATCHES and cfg["lr"] in HIDDEN_LRS and cfg["image"] == 32
        a = instance_data(cfg, inst, "hidden", 4)
        b = instance_data(cfg, inst, "hidden", 4)
        assert all(np.array_equal(x, y) for x, y in zip(a[:2] + a[3:], b[:2] + b[3:]))
        assert a[0].shape == (cfg["steps"] * cfg["batch"], 3, 32, 32) and a[0].dtype == np.float32
        pub = instance_data(PUBLIC, inst, "public")
        assert not np.allclose(pub[2]["stem.0.weight"], a[2]["stem.0.weight"])
        files = run_files(cfg, a[0], a[1], a[2])
        assert json.loads(files["config.json"]) == cfg
        with np.load(io.BytesIO(files["init.npz"]), allow_pickle=False) as z:
            assert sorted(z.files) == sorted(param_shapes(cfg))
    assert len({json.dumps(hidden_config(i)) for i in range(1, 30)}) > 1
    X1 = instance_data(hidden_config(1), 1, "hidden", 8)[3]
    X2 = instance_data(hidden_config(2), 2, "hidden", 8)[3]
    assert not np.allclose(X1, X2)


def _category(blob, cfg):
    with pytest.raises(grader.Verdict) as e:
        grader.parse_weights(blob, cfg)
    return e.value.category


def test_parse_weights_fails_closed():
    cfg = hidden_config(3)
    init = instance_data(cfg, 3, "hidden")[2]
    assert set(grader.parse_weights(npz_bytes(init), cfg)) == set(init)
    assert _category(b"", cfg) == "no_weights"
    assert _category(b"not a zip", cfg) == "bad_weights"
    assert _category(npz_bytes({k: v.astype(np.float64) for k, v in init.items()}), cfg) == "bad_weights"
    assert _category(npz_bytes({k: v for k, v in init.items() if k != "pos"}), cfg) == "bad_weights"
    assert _category(npz_bytes(dict(init, extra=np.zeros(1, np.float32))), cfg) == "bad_weights"
    assert _category(npz_bytes(dict(init, pos=np.zeros((1, 64, 32), np.float32))), cfg) == "bad_weights"
    assert _category(npz_bytes({k: np.array([object()], dtype=object) for k in init}), cfg) == "bad_weights"
    nan = dict(init, **{"head.bias": np.full(10, np.nan, np.float32)})
    assert _category(npz_bytes(nan), cfg) == "broken_training"
    buf = io.BytesIO()  # what torch.save writes: a zip holding a pickle
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x04N.")
    assert _category(buf.getvalue(), cfg) == "bad_weights"


def _base(cfg, inst, rng):
    """A stand-in for the baseline's trained weights: init plus an AdamW-sized update."""
    init = instance_data(cfg, inst, "hidden")[2]
    ref = {k: v.astype(np.float64) + rng.choice([-1, 1], v.shape) * cfg["lr"] * 2 for k, v in init.items()}
    return init, ref


@pytest.mark.parametrize("inst", INSTANCES[:3])
def test_judge_on_instances(inst):
    """Accepts weights near the reference with a real saving; every other case has its category."""
    cfg = hidden_config(inst)
    rng = np.random.default_rng(inst)
    init, ref = _base(cfg, inst, rng)
    _, _, _, Xe, ye = instance_data(cfg, inst, "hidden", 16)
    mb = 2**20
    base = {"peak": 800 * mb, "floor": 300 * mb, "weights": ref}
    near = {k: (v + (v - init[k]) * rng.normal(0, 0.01, v.shape)).astype(np.float32) for k, v in ref.items()}
    s = grader.judge(npz_bytes(near), 350 * mb, base, cfg, init, Xe, ye)
    assert s["distance"] < grader.MAX_DISTANCE and s["saving"] == pytest.approx(10.0)

    def cat(weights, peak=350 * mb):
        with pytest.raises(grader.Verdict) as e:
            grader.judge(npz_bytes(weights), peak, base, cfg, init, Xe, ye)
        return e.value.category

    assert cat(near, peak=int(300 * mb + 500 * mb / grader.MIN_SAVING) + 2 * mb) == "not_enough_saving"
    assert cat(near, peak=800 * mb) == "not_enough_saving"
    assert cat(init) == "wrong_training"
    frozen = dict(near, **{k: init[k] for k in near if k.startswith("blocks.1.")})
    assert cat(frozen) == "wrong_training"
    half = {k: (init[k] + (ref[k] - init[k]) * 0.7).astype(np.float32) for k in ref}
    assert cat(half) == "wrong_training"
    with pytest.raises(RuntimeError):
        grader.judge(npz_bytes(near), None, base, cfg, init, Xe, ye)


def test_held_out_quality_bound():
    """Weights inside the distance bound but worse on held-out images fail as broken_training."""
    cfg = hidden_config(3)
    init, ref = _base(cfg, 3, np.random.default_rng(0))
    _, _, _, Xe, ye = instance_data(cfg, 3, "hidden", 8)
    base = {"peak": 800, "floor": 300, "weights": ref, "eval": (0.0, 1.0)}  # an unbeatable baseline
    with pytest.raises(grader.Verdict) as e:
        grader.judge(npz_bytes({k: v.astype(np.float32) for k, v in ref.items()}), 350, base, cfg, init, Xe, ye)
    assert e.value.category == "broken_training"


def test_saving():
    assert grader.saving(400, 800, 300) == pytest.approx(5.0)
    assert grader.saving(300, 800, 300) == float("inf")
    assert grader.saving(800, 800, 300) == pytest.approx(1.0)


def test_prompt_states_the_grader():
    """The prompt quotes the thresholds the grader applies and the one-process rule."""
    text = prompt()
    for v in (grader.MIN_SAVING, grader.MAX_DISTANCE, grader.MAX_GROUP_DISTANCE, grader.CE_SLACK,
              grader.ACC_DROP, HIDDEN_STEPS, min(HIDDEN_BATCHES), max(HIDDEN_BATCHES)):
        assert str(v) in text
    assert "ONE process" in text and BASELINE.splitlines()[0][3:40] in BASELINE
