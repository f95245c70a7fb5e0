"""Trusted helpers of the neural_memory task (pytest process only; nothing here runs agent code).

* ``make_workspace(ws, seed)``: model.py (a small causal transformer with NeuralMemory and
  MemoryBlock stubs) and TASK.md (the interface).
* ``grader_input(seed, nonce)``: probe sizes and seeds for the grading sandbox (no labels exist
  in this task: what is hidden is the probe inputs' seeds and the thresholds below).
* ``analyse(out, ctx)`` / ``verdict(out, ctx)``: the pure part of the grader. It turns the raw
  tensors the grading sandbox observed into one check per requirement, then a verdict
  (category, message) or None. Pure numpy; property-tested in test_neural_memory_grader.py.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
GRADER_SCRIPT = HERE / "grade_neural_memory.py"
MODEL_PY = (HERE / "workspace_model.py").read_text()
CALL_LIMIT_S = 60

# thresholds (stated in the prompt where they are requirements)
SURPRISE_RATIO = 0.95      # a predicted pair's write must be <= 95% of the surprising one's
FIT_RTOL = 1e-3            # ||M_t - (a M_{t-1} + b v k^T)|| <= FIT_RTOL * ||M_t||
CAUSAL_RTOL = 1e-5         # changes after step t move outputs up to t by <= this * max|y|
GATE_RTOL = 1e-4           # |out - (g attn + (1-g) mem)| <= GATE_ATOL + GATE_RTOL * scale
GATE_ATOL = 1e-5
DECAY_SHIFT = 1e-3         # +-0.5 on the decay parameter moves the mean forget factor by > this
REQUIREMENTS = ("recurrence", "write", "decay", "no_surprise_gate", "gating")
CATEGORIES = ("bad_result", "interface") + REQUIREMENTS

PROMPT = """\
`model.py` in your workspace holds a small causal transformer. Its `MemoryBlock` currently \
uses attention only; `NeuralMemory` is a stub. Add a neural long-term memory to it, inspired by \
how biological memory works:

* **Surprise.** We remember what surprises us. The memory should write strongly what it could \
not predict and weakly what it already knows: the strength of each write is a gate driven by the \
memory's prediction error, i.e. how far what the memory currently retrieves for this step's key \
is from this step's value. A plain learned gate on the input is not surprise.
* **Forgetting.** Old memories fade at a rate the model learns.
* **Association.** The memory is a matrix `M` (`d_value x d_key`) that stores key -> value \
associations; each write adds the outer product `v_t k_t^T` of the step's value and key, scaled \
by the surprise gate.
* **Recurrence.** The memory is updated step by step, in time order: the output at step t can \
only depend on inputs up to t.
* **Blending.** Attention (short-term) and memory (long-term) compete for the block's output.

Interface (the grader imports your `model.py` and calls exactly this; keep `CausalSelfAttention` \
as it is; every tensor below is a plain `torch.Tensor`):

`NeuralMemory(d_model, d_key, d_value)`, an `nn.Module`:
- `forward(x, state=None)` with `x` float32 `[B, T, d_model]` and `state` either None (start from \
an all-zero memory) or a float32 `[B, d_value, d_key]` initial memory; returns the memory branch \
output `y`, float32 `[B, T, d_model]` (what the memory retrieves at each step, projected back to \
d_model). It must read the memory: a different initial `state` must change `y`.
- after each forward it sets `self.last_keys` `[B, T, d_key]`, `self.last_values` \
`[B, T, d_value]` (exactly the `k_t`, `v_t` of the writes, and `k_t` is also the key whose \
retrieval the surprise compares with `v_t`), and `self.last_states` `[B, T+1, d_value, d_key]`: \
`last_states[:, 0]` is the initial memory (zeros or `state`) and `last_states[:, t+1]` the memory \
right after step t's update.
- `self.decay` is an `nn.Parameter` registered on the module (any shape) that controls the \
forgetting.

`MemoryBlock(d_model, n_heads, d_key, d_value)`, an `nn.Module` with `self.attn` (a \
`CausalSelfAttention`) and `self.memory` (a `NeuralMemory`):
- `forward(x)`, `x` `[B, T, d_model]` -> `[B, T, d_model]`; each forward calls `self.attn(x)` \
once and `self.memory(...)` once and returns the blend of the two (no residual: `Layer` adds \
it). It sets `self.last_attn` and `self.last_mem` to exactly the tensors those two calls returned \
and `self.last_gate` to the gate `g` (`[B, T, 1]` or `[B, T, d_model]`).

What the grader checks, by running your modules with its own sizes, weights (default \
initialisation, seeded) and random inputs, on CPU (each call must finish within {limit} s):
1. Recurrence: outputs (memory and block) at steps <= t do not change when inputs after t \
change; `last_states` changes at every step; a different initial `state` changes `y`.
2. Write: from each step to the next, the memory is the previous memory times one forget factor \
in [0, 1] (a single number for the whole matrix, which may depend on the step) plus a \
non-negative multiple of `v_t k_t^T`; nothing else changes it (relative tolerance 1e-3).
3. Decay: `self.decay` is a registered `nn.Parameter`, a loss on `y` gives it a nonzero finite \
gradient, and shifting its value by +-0.5 changes the forget factor.
4. Surprise: the write strength (the multiple of `v_t k_t^T`) is at most 95% as large when the \
memory already predicts the step's pair as when it does not: (a) for a one-step input with an \
initial `state` that already maps `k` to `v`, compared with a `state` that maps `k` to zero \
(a `state` that maps `k` half-way to `v` must give a write strength in between); (b) for a token repeated right after it was written, \
compared with its first write and with the same token in the same sequence where the previous \
token was a different one.
5. Blending: `g` is in [0, 1], depends on the input, and is the weight of the attention branch: \
the block output equals the blend of `last_attn` and `last_mem` where `g` = 1 means attention only \
and `g` = 0 means memory only, elementwise (tolerance 1e-5 + 1e-4 x the outputs' scale); both \
branches must actually contribute.

Keep it small and CPU-friendly. When done, call `submit_answer` with a one-line summary (the \
text is not graded; only `model.py` is).
""".replace("{limit}", str(CALL_LIMIT_S))

TASK_MD = "# NeuralMemory / MemoryBlock interface\n\n" + PROMPT.split("Interface (", 1)[1].split(
    "Keep it small", 1)[0].join(["Interface (", ""])


def make_workspace(ws: Path, seed: int) -> None:
    (ws / "model.py").write_text(MODEL_PY)
    (ws / "TASK.md").write_text(TASK_MD)


def probe_config(seed: int) -> dict[str, Any]:
    rng = random.Random(1_000_003 * seed + 17)
    T = rng.randint(10, 14)
    return {"d_model": rng.choice([24, 32, 48]), "n_heads": rng.choice([2, 4]),
            "d_key": rng.choice([24, 32]), "d_value": rng.choice([8, 12, 16]),
            "T": T, "p": rng.randint(1, 2), "q": rng.randint(1, T - 3), "pairs": 3,
            "x_seed": rng.randrange(2**31), "init_seed": rng.randrange(2**31)}


def grader_input(seed: int, nonce: str) -> dict[str, Any]:
    return {"nonce": nonce, "call_limit_s": CALL_LIMIT_S, **probe_config(seed)}


def context(seed: int, nonce: str) -> dict[str, Any]:
    return {"nonce": nonce, "cfg": probe_config(seed)}


# ---------------------------------------------------------------------------------- verdict
class Bad(Exception):
    def __init__(self, cat: str, msg: str):
        super().__init__(msg)
        self.cat, self.msg = cat, msg


def arr(x: Any, shape: tuple, what: str, cat: str = "interface") -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise Bad(cat, f"{what}: not a numeric array ({type(e).__name__})") from None
    if a.shape != tuple(shape):
        raise Bad(cat, f"{what}: shape {a.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(a)):
        raise Bad(cat, f"{what}: contains NaN or inf")
    return a


def _get(d: Any, key: str, what: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise Bad("interface", f"grader result lacks {what}")
    return d[key]


def mem_run(p: dict, key: str, B: int, T: int, c: dict) -> dict[str, np.ndarray]:
    r = _get(p, key, f"probe {key!r}")
    D, DK, DV = c["d_model"], c["d_key"], c["d_value"]
    return {"y": arr(_get(r, "y", key), (B, T, D), f"{key}: memory output y"),
            "k": arr(_get(r, "keys", key), (B, T, DK), f"{key}: last_keys"),
            "v": arr(_get(r, "values", key), (B, T, DV), f"{key}: last_values"),
            "S": arr(_get(r, "states", key), (B, T + 1, DV, DK), f"{key}: last_states")}


def fit_steps(run: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per (b, t): fit M_{t+1} = a M_t + b v_t k_t^T; return a (nan where unidentifiable), b and
    the relative residual."""
    S, k, v = run["S"], run["k"], run["v"]
    B, T1 = S.shape[:2]
    a = np.full((B, T1 - 1), np.nan)
    b = np.zeros((B, T1 - 1))
    res = np.zeros((B, T1 - 1))
    scale = max(float(np.abs(S).max()), 1e-30)
    for i in range(B):
        for t in range(T1 - 1):
            M0, M1 = S[i, t].ravel(), S[i, t + 1].ravel()
            W = np.outer(v[i, t], k[i, t]).ravel()
            n0, nw, n1 = np.linalg.norm(M0), np.linalg.norm(W), np.linalg.norm(M1)
            if nw <= 1e-12 * max(scale, 1.0):
                # no write direction: the new memory must be a multiple of the old one
                if n0 > 1e-9 * scale:
                    a[i, t] = float(M0 @ M1) / n0**2
                    r = M1 - a[i, t] * M0
                else:
                    r = M1
                res[i, t] = np.linalg.norm(r) / max(n1, 1e-9 * scale, 1e-30)
                continue
            has_old = n0 > 1e-7 * scale
            A = np.stack([M0, W], 1) if has_old else W[:, None]
            coef, *_ = np.linalg.lstsq(A, M1, rcond=None)
            r = M1 - A @ coef
            if not has_old:
                b[i, t] = coef[0]
            elif abs(float(M0 @ W)) / (n0 * nw) < 0.999:
                a[i, t], b[i, t] = coef
            else:   # old memory (nearly) parallel to the write: a and b not separable
                b[i, t] = np.nan
            res[i, t] = np.linalg.norm(r) / max(n1, 1e-6 * scale, 1e-30)
    return {"a": a, "b": b, "res": res}


def _max_rel_diff(x: np.ndarray, y: np.ndarray) -> float:
    scale = max(float(np.abs(x).max(initial=0.0)), float(np.abs(y).max(initial=0.0)), 1e-30)
    return float(np.abs(x - y).max(initial=0.0)) / scale


def analyse(out: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """{'first': (cat, msg) or None, 'checks': {requirement: (ok, msg)}}."""
    checks: dict[str, tuple[bool, str]] = {}
    if not isinstance(out, dict) or not isinstance(out.get("nonce"), str) \
            or out.get("nonce") != ctx["nonce"]:
        return {"first": ("bad_result", "grader result does not carry this grading run's nonce"),
                "checks": checks}
    err = out.get("error")
    if err is not None:
        stage = str(err.get("stage", "?")) if isinstance(err, dict) else "?"
        msg = str(err.get("msg", err))[-600:] if isinstance(err, dict) else str(err)[-600:]
        cat = "decay" if stage.startswith("memory.decay") else "interface"
        return {"first": (cat, f"{stage}: {msg}"), "checks": checks}
    c = ctx["cfg"]
    N, T, Q, Pp = c["pairs"], c["T"], c["q"], c["p"]
    B, D = 2 * N, c["d_model"]
    try:
        p = _get(out, "probes", "probes")
        main = mem_run(p, "main", B, T, c)
        causal = mem_run(p, "causal", B, T, c)
        sR = mem_run(p, "state_R", B, T, c)
        R = arr(_get(p, "R", "R"), (B, c["d_value"], c["d_key"]), "R")
        known = mem_run(p, "known", 3 * N, 1, c)
        K0 = arr(_get(p, "known_init", "known_init"), (3 * N, c["d_value"], c["d_key"]), "known_init")
        blk = _get(p, "block", "block probe")
        if not isinstance(blk, dict):
            raise Bad("interface", "block probe malformed")
        bout = arr(_get(blk, "out", "block output"), (B, T, D), "block output")
        battn = arr(_get(blk, "attn", "last_attn"), (B, T, D), "block.last_attn")
        bmem = arr(_get(blk, "mem", "last_mem"), (B, T, D), "block.last_mem")
        try:
            g = np.asarray(_get(blk, "gate", "last_gate"), dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise Bad("interface", "block.last_gate: not a numeric array") from None
        if g.shape not in ((B, T, 1), (B, T, D)):
            raise Bad("interface", f"block.last_gate: shape {g.shape}, expected {(B, T, 1)} "
                                   f"or {(B, T, D)}")
        if not np.all(np.isfinite(g)):
            raise Bad("interface", "block.last_gate: contains NaN or inf")
        bcausal = arr(_get(p, "block_causal", "block_causal"), (B, T, D), "block(x') output")
        dec = _get(p, "decay", "decay probe")
        if not isinstance(dec, dict):
            raise Bad("interface", "decay probe malformed")
    except Bad as e:
        return {"first": (e.cat, e.msg), "checks": checks}

    # 1. recurrence
    try:
        d_y = float(np.abs(main["y"][:, :Q + 1] - causal["y"][:, :Q + 1]).max()) / \
            max(float(np.abs(main["y"]).max()), 1e-30)
        d_s = float(np.abs(main["S"][:, :Q + 2] - causal["S"][:, :Q + 2]).max()) / \
            max(float(np.abs(main["S"]).max()), 1e-30)
        d_b = float(np.abs(bout[:, :Q + 1] - bcausal[:, :Q + 1]).max()) / \
            max(float(np.abs(bout).max()), 1e-30)
        if max(d_y, d_s, d_b) > CAUSAL_RTOL:
            raise Bad("recurrence", f"not causal: changing inputs after step {Q} moved earlier "
                                    f"outputs/states (memory y {d_y:.2e}, states {d_s:.2e}, block "
                                    f"{d_b:.2e}, relative)")
        if float(np.abs(main["S"][:, 0]).max()) > 1e-12:
            raise Bad("recurrence", "last_states[:, 0] is not the all-zero memory when state=None")
        if _max_rel_diff(sR["S"][:, 0], R) > 1e-5:
            raise Bad("recurrence", "last_states[:, 0] is not the given initial state")
        sc = max(float(np.abs(main["S"]).max()), 1e-30)
        steps = np.abs(np.diff(main["S"], axis=1)).reshape(B, T, -1).max(-1) / sc
        if steps.min() <= 1e-6:
            i, t = np.unravel_index(int(np.argmin(steps)), steps.shape)
            raise Bad("recurrence", f"the memory did not change at step {t} (row {i})")
        rd = np.abs(sR["y"] - main["y"]).reshape(B, T, -1).max(-1)[:, [0, T - 1]]
        if rd.min() <= 1e-6 * max(float(np.abs(main["y"]).max()), 1e-30):
            raise Bad("recurrence", "a different initial state does not change y (at the first "
                                    "or last step): the output does not read the memory")
        checks["recurrence"] = (True, "")
    except Bad as e:
        checks["recurrence"] = (False, e.msg)

    # 2. write
    fits = {}
    try:
        for name, run in (("main", main), ("state_R", sR), ("known", known)):
            fits[name] = fit_steps(run)
        for name, f in fits.items():
            worst = float(f["res"].max())
            if worst > FIT_RTOL:
                i, t = np.unravel_index(int(np.argmax(f["res"])), f["res"].shape)
                raise Bad("write", f"{name}: step {t} (row {i}) is not forget*M + b*v k^T "
                                   f"(relative residual {worst:.2e} > {FIT_RTOL})")
            bb = f["b"][np.isfinite(f["b"])]
            if bb.size and bb.min() < -1e-6 * max(1.0, float(np.abs(bb).max())):
                raise Bad("write", f"{name}: negative write strength {bb.min():.3g}")
            aa = f["a"][np.isfinite(f["a"])]
            if aa.size and (aa.min() < -1e-4 or aa.max() > 1 + 1e-4):
                raise Bad("write", f"{name}: forget factor outside [0, 1] "
                                   f"({aa.min():.4g} .. {aa.max():.4g})")
        if not np.isfinite(fits["main"]["a"]).any():
            raise Bad("write", "could not identify a forget factor at any step")
        checks["write"] = (True, "")
    except Bad as e:
        checks["write"] = (False, e.msg)

    # 3. decay
    try:
        if dec.get("is_parameter") is not True:
            raise Bad("decay", "memory.decay is not an nn.Parameter")
        if dec.get("registered") is not True:
            raise Bad("decay", "memory.decay is not among memory.parameters()")
        grad = dec.get("grad")
        try:
            gr = np.asarray(grad, dtype=np.float64).ravel() if grad is not None else None
        except (TypeError, ValueError, OverflowError):
            gr = None
        if gr is None or gr.size == 0 or not np.all(np.isfinite(gr)) or \
                float(np.abs(gr).max()) <= 1e-10:
            raise Bad("decay", "a loss on y gives memory.decay no nonzero finite gradient")
        base = fits["main"]["a"] if "main" in fits else fit_steps(main)["a"]
        shifts = []
        for name in ("decay_plus", "decay_minus"):
            run = mem_run(p, name, B, T, c)
            a2 = fit_steps(run)["a"]
            ok = np.isfinite(base) & np.isfinite(a2)
            if ok.any():
                shifts.append(float(np.abs(a2[ok] - base[ok]).mean()))
        if not shifts or max(shifts) <= DECAY_SHIFT:
            raise Bad("decay", "shifting memory.decay by +-0.5 does not change the forget factor")
        checks["decay"] = (True, "")
    except Bad as e:
        checks["decay"] = (False, e.msg if e.cat == "decay" else f"decay probe: {e.msg}")

    # 4. surprise
    try:
        fk = fits.get("known") or fit_steps(known)
        if _max_rel_diff(known["S"][:, 0], K0) > 1e-5:
            raise Bad("no_surprise_gate", "last_states[:, 0] is not the given initial state")
        bk = fk["b"][:, 0]
        for i in range(N):
            bE, bH, bK = bk[i], bk[N + i], bk[2 * N + i]
            if not (np.isfinite(bE) and np.isfinite(bH) and np.isfinite(bK)) or bE <= 1e-9:
                raise Bad("no_surprise_gate", f"token {i}: write strength not measurable "
                                              f"({bE:.3g}, {bH:.3g}, {bK:.3g})")
            if not (bK <= SURPRISE_RATIO * bE and bH <= bE * (1 + 1e-3) + 1e-9
                    and bK <= bH * (1 + 1e-3) + 1e-9):
                raise Bad("no_surprise_gate", f"token {i}: write strength with a memory that "
                                              f"predicts nothing / half / all of the pair: "
                                              f"{bE:.4g} / {bH:.4g} / {bK:.4g}")
        fm = fits.get("main") or fit_steps(main)
        for i in range(N):
            rep, nov, first = fm["b"][2 * i, Pp + 1], fm["b"][2 * i + 1, Pp + 1], fm["b"][2 * i, Pp]
            if not all(np.isfinite(x) for x in (rep, nov, first)):
                raise Bad("no_surprise_gate", f"pair {i}: write strengths not measurable")
            if not (rep <= SURPRISE_RATIO * nov and rep <= SURPRISE_RATIO * first):
                raise Bad("no_surprise_gate", f"pair {i}: repeated token written with strength "
                                              f"{rep:.4g}; its first write {first:.4g}, after a "
                                              f"different token {nov:.4g}")
        checks["no_surprise_gate"] = (True, "")
    except Bad as e:
        checks["no_surprise_gate"] = (False, e.msg)

    # 5. gating
    try:
        if blk.get("n_attn_calls") != 1 or blk.get("n_mem_calls") != 1:
            raise Bad("gating", f"block.forward called self.attn {blk.get('n_attn_calls')} and "
                                f"self.memory {blk.get('n_mem_calls')} times (expected once each)")
        ha = arr(_get(blk, "hook_attn", "hook_attn"), (B, T, D), "self.attn output", "gating")
        hm = arr(_get(blk, "hook_mem", "hook_mem"), (B, T, D), "self.memory output", "gating")
        if _max_rel_diff(ha, battn) > 1e-6 or _max_rel_diff(hm, bmem) > 1e-6:
            raise Bad("gating", "last_attn/last_mem are not what self.attn/self.memory returned")
        if g.min() < -1e-6 or g.max() > 1 + 1e-6:
            raise Bad("gating", f"gate outside [0, 1] ({g.min():.4g} .. {g.max():.4g})")
        if float(g.std()) <= 1e-6:
            raise Bad("gating", "the gate does not depend on the input (constant)")
        scale = max(float(np.abs(battn).max()), float(np.abs(bmem).max()), 1e-30)
        resid = float(np.abs(bout - (g * battn + (1 - g) * bmem)).max())
        if resid > GATE_ATOL + GATE_RTOL * scale:
            raise Bad("gating", f"block output != g*attn + (1-g)*mem (max deviation {resid:.3g}, "
                                f"scale {scale:.3g})")
        sc_out = max(float(np.abs(bout).max()), 1e-30)
        if min(float(np.abs(bout - battn).max()), float(np.abs(bout - bmem).max())) <= 1e-5 * sc_out:
            raise Bad("gating", "one branch does not contribute to the block output")
        checks["gating"] = (True, "")
    except Bad as e:
        checks["gating"] = (False, e.msg if e.cat == "gating" else f"gating probe: {e.msg}")

    first = next(((r, checks[r][1]) for r in REQUIREMENTS if not checks[r][0]), None)
    return {"first": first, "checks": checks}


def verdict(out: Any, ctx: dict[str, Any]) -> tuple[str, str] | None:
    return analyse(out, ctx)["first"]


def requirements_met(out: Any, ctx: dict[str, Any]) -> int:
    return sum(1 for ok, _ in analyse(out, ctx)["checks"].values() if ok)
