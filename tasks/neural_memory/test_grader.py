"""Unit and property tests of neural_memory's trusted grading (grader.py) on several instances.

A numpy memory that meets every requirement, run on the real hidden probe inputs of an instance,
must pass; each single defect must give its category; any archive gives a category, never a crash.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import grader as G
from .task import probe

pytestmark = pytest.mark.offline
INSTANCES = (1, 2**62 + 7, 987654321)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


class Sim:
    """A numpy stand-in for the runner's process: memory, block, and what check_memory.py saves."""

    def __init__(self, c, surprise=True, write="outer", decay=1.5, gate="blend", causal=True):
        rng = np.random.default_rng(c["init_seed"])
        D, DK, DV = c["d_model"], c["d_key"], c["d_value"]
        self.Wk, self.Wv, self.Wq = (rng.standard_normal((D, n)) / np.sqrt(D) for n in (DK, DV, DK))
        self.Wo, self.Wa = rng.standard_normal((DV, D)), rng.standard_normal((D, D)) / np.sqrt(D)
        self.wg = rng.standard_normal((D, 1))
        self.surprise, self.write, self.decay, self.gate, self.causal = surprise, write, decay, gate, causal
        self.DV, self.DK = DV, DK

    def memory(self, x, state=None, decay=None):
        B, T, _ = x.shape
        k = x @ self.Wk
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        v, q = x @ self.Wv, x @ self.Wq
        M = np.zeros((B, self.DV, self.DK)) if state is None else state.astype(np.float64)
        f = _sig(self.decay if decay is None else decay)
        S, ys = [M], []
        for t in range(T):
            err = np.linalg.norm(v[:, t] - np.einsum("bvk,bk->bv", M, k[:, t]), axis=-1) \
                / np.linalg.norm(v[:, t], axis=-1)
            s = 1 - np.exp(-1.7 * err) if self.surprise else _sig(x[:, t, 0])
            W = np.einsum("bv,bk->bvk", v[:, t], k[:, t]) if self.write == "outer" else \
                v[:, t, :, None] + k[:, t, None, :]
            M = f * M + s[:, None, None] * W
            S.append(M)
            ys.append(np.einsum("bvk,bk->bv", M, q[:, t]) @ self.Wo)
        y = np.stack(ys, 1)
        if not self.causal:
            y = np.einsum("bvk,btk->btv", M, q) @ self.Wo
        return {"y": y, "keys": k, "values": v, "states": np.stack(S, 1)}

    def block(self, x):
        T = x.shape[1]
        a = np.cumsum(x @ self.Wa, axis=1) / np.arange(1, T + 1)[None, :, None]
        m = self.memory(x)["y"]
        g = _sig(x @ self.wg)
        if self.gate == "const":
            g = np.ones_like(g)
        out = g * a + (1 - g) * m if self.gate != "additive" else g * a + m
        return {"out": out, "attn": a, "mem": m, "gate": g, "attn_direct": a, "mem_direct": m}

    def outputs(self, c, inp):
        o: dict[str, np.ndarray] = {"inputs.x": inp["x"], "inputs.R": inp["R"]}
        N = c["pairs"]

        def put(name, r):
            for k, v in r.items():
                o[f"{name}.{k}"] = v
        put("main", self.memory(inp["x"]))
        put("causal", self.memory(inp["x_changed"]))
        put("state_R", self.memory(inp["x"], inp["R"]))
        tok = self.memory(inp["x_known"][:N])
        put("tok", tok)
        S0 = G.known_states(tok["keys"][:, 0], tok["values"][:, 0], inp)
        o["known_init"] = S0
        put("known", self.memory(inp["x_known"], S0))
        o["decay.is_parameter"], o["decay.registered"] = np.array(True), np.array(True)
        o["decay.grad"] = np.array(0.3)
        put("decay_plus", self.memory(inp["x"], decay=self.decay + 0.5))
        put("decay_minus", self.memory(inp["x"], decay=self.decay - 0.5))
        put("block", self.block(inp["x"]))
        o["block_causal.out"] = self.block(inp["x_changed"])["out"]
        return o


def _bytes(arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _verdict(arrays, inst, which="hidden"):
    return G.analyse(G.load_outputs(_bytes(arrays)), G.context(inst, which))


@pytest.mark.parametrize("inst", INSTANCES)
@pytest.mark.parametrize("which", ["hidden", "workspace"])
def test_correct_memory_passes(inst, which):
    c, inp = probe(inst, which)
    a = _verdict(Sim(c).outputs(c, inp), inst, which)
    assert a["first"] is None, a
    assert all(ok for ok, _ in a["checks"].values())


@pytest.mark.parametrize("kw, cat", [
    ({"surprise": False}, "no_surprise_gate"),
    ({"write": "additive"}, "write"),
    ({"gate": "additive"}, "gating"),
    ({"gate": "const"}, "gating"),
    ({"causal": False}, "recurrence"),
])
def test_single_defects_are_named(kw, cat):
    for inst in INSTANCES[:2]:
        c, inp = probe(inst, "hidden")
        assert _verdict(Sim(c, **kw).outputs(c, inp), inst)["first"][0] == cat


def _mutated(mutate):
    c, inp = probe(INSTANCES[0], "hidden")
    o = Sim(c).outputs(c, inp)
    mutate(o, c, inp)
    return o


@pytest.mark.parametrize("mutate, cat", [
    (lambda o, c, i: o.update({"inputs.x": probe(INSTANCES[1], "hidden")[1]["x"]}), "interface"),
    (lambda o, c, i: o.update({"inputs.x": i["x"] + 1e-3}), "interface"),
    (lambda o, c, i: o["main.y"].__setitem__((0, 0, 0), np.nan), "interface"),
    (lambda o, c, i: o.update({"main.states": o["main.states"][:, 1:]}), "interface"),
    (lambda o, c, i: o.pop("block.gate"), "interface"),
    (lambda o, c, i: o.update({"error": np.array("memory(x): Traceback ...")}), "interface"),
    (lambda o, c, i: o.update({"error": np.array("memory.decay: AttributeError")}), "decay"),
    (lambda o, c, i: o.update({"decay.is_parameter": np.array(False)}), "decay"),
    (lambda o, c, i: o.update({"decay.grad": np.array(0.0)}), "decay"),
    (lambda o, c, i: o.update({"decay_plus.states": o["main.states"], "decay_minus.states": o["main.states"]}), "decay"),
    (lambda o, c, i: o.update({"state_R.states": o["main.states"]}), "recurrence"),
    (lambda o, c, i: o.update({"block.attn_direct": o["block.attn"] * 1.01}), "gating"),
    (lambda o, c, i: o.update({"block_causal.out": o["block.out"] + 1.0}), "recurrence"),
    (lambda o, c, i: o.update({"block.out": o["block.attn"]}), "recurrence"),
    (lambda o, c, i: o.update({"block.gate": o["block.gate"] + 1.0}), "gating"),
])
def test_forged_or_broken_outputs_are_named(mutate, cat):
    assert _verdict(_mutated(mutate), INSTANCES[0])["first"][0] == cat


def test_object_arrays_and_junk_are_interface():
    with pytest.raises(G.Bad) as e:
        G.load_outputs(_bytes({"main.y": np.array([object()], dtype=object)}))
    assert e.value.cat == "interface"
    for junk in (b"", b"PK\x03\x04junk", b"\x93NUMPY"):
        with pytest.raises(G.Bad):
            G.load_outputs(junk)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_mutated(lambda o, c, i: None))), st.floats(allow_nan=True, allow_infinity=True),
       st.integers(0, 5))
def test_any_single_array_edit_gives_a_category(key, value, how):
    def mutate(o, c, i):
        a = np.asarray(o[key], dtype=np.float64)
        o[key] = [a * value, a + value, np.full_like(a, value), a.ravel()[:1], a[..., None], a.T][how]
    a = _verdict(_mutated(mutate), INSTANCES[0])
    assert a["first"] is None or a["first"][0] in G.CATEGORIES
