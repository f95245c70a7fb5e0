"""neural_memory's trusted grading: probe_outputs.npz (bytes from the runner's sandbox) -> verdict.

Nothing here imports or runs agent code. ``load_outputs`` parses the archive with
``np.load(allow_pickle=False)`` after checking member names and sizes; ``analyse`` turns the
arrays into one check per requirement (pure numpy; property-tested in test_grader.py). Every
value that ties the outputs to the hidden inputs (the given initial states, the states that
predict a known pair, the sizes) is recomputed here from the instance, not taken from the run.
"""
from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from .task import OUTPUTS as OUT_NAME, probe

SURPRISE_RATIO = 0.95      # a predicted pair's write must be <= 95% of the surprising one's
FIT_RTOL = 1e-3            # ||M_t - (a M_{t-1} + b v k^T)|| <= FIT_RTOL * ||M_t||
CAUSAL_RTOL = 1e-5         # changes after step t move outputs up to t by <= this * max|y|
GATE_RTOL = 1e-4           # |out - (g attn + (1-g) mem)| <= GATE_ATOL + GATE_RTOL * scale
GATE_ATOL = 1e-5
DIRECT_RTOL = 1e-5         # last_attn / last_mem vs block.attn(x) / block.memory(x)
DECAY_SHIFT = 1e-3         # +-0.5 on the decay parameter moves the mean forget factor by > this
MAX_MEMBER_BYTES = 8 << 20
MAX_ABS = 1e8              # larger values are not a memory's (and could overflow the fits)
REQUIREMENTS = ("recurrence", "write", "decay", "no_surprise_gate", "gating")
CATEGORIES = ("interface",) + REQUIREMENTS
RUNS = ("main", "causal", "state_R", "tok", "known", "decay_plus", "decay_minus")


def load_outputs(data: bytes) -> dict[str, Any]:
    """probe_outputs.npz bytes -> {"error": str} or the nested probe dict analyse() reads.
    Raises Bad("interface") for anything but a plain archive of numeric arrays."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise Bad("interface", f"probe_outputs.npz is not an .npz archive ({e})") from None
    if len(infos) > 100 or any(i.file_size > MAX_MEMBER_BYTES for i in infos):
        raise Bad("interface", "probe_outputs.npz has too many or too large members")
    flat: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for k in npz.files:
                flat[k] = npz[k]
    except Exception as e:  # noqa: BLE001  (object arrays, bad headers, truncation)
        raise Bad("interface", f"probe_outputs.npz cannot be read as plain arrays: "
                               f"{type(e).__name__}: {str(e)[:200]}") from None
    if "error" in flat:
        return {"error": str(flat["error"])[-1500:]}
    for k, a in flat.items():
        if a.dtype.kind not in "fiub":
            raise Bad("interface", f"{k}: dtype {a.dtype} is not numeric")
    p: dict[str, Any] = {}
    for k, a in flat.items():
        if a.dtype.kind == "b" and a.shape == ():
            a = bool(a)
        head, _, tail = k.partition(".")
        if tail:
            p.setdefault(head, {})[tail] = a
        else:
            p[head] = a
    return p


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
    if a.size and float(np.abs(a).max()) > MAX_ABS:   # keeps every product below overflow
        raise Bad(cat, f"{what}: values beyond {MAX_ABS:g}")
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


def context(instance_seed: int, which: str) -> dict[str, Any]:
    """What analyse() compares with: the probe's config and hidden inputs (trusted side)."""
    c, inputs = probe(instance_seed, which)
    return {"cfg": c, "inputs": inputs}


def known_states(tok_k: np.ndarray, tok_v: np.ndarray, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The initial states of the known-pair probe, recomputed here from the run's step-0 key and
    value: unrelated content E (E k = 0) plus none / half / all of the pair k -> v."""
    k, v = tok_k.astype(np.float64), tok_v.astype(np.float64)
    kk = (k * k).sum(-1, keepdims=True)
    Wk = inputs["E_key"].astype(np.float64)
    w = Wk - (Wk * k).sum(-1, keepdims=True) / np.maximum(kk, 1e-12) * k
    E = inputs["E_value"].astype(np.float64)[:, :, None] * w[:, None, :]
    E = E / np.maximum(np.linalg.norm(E.reshape(len(E), -1), axis=1), 1e-12)[:, None, None] \
        * (np.linalg.norm(v, axis=1) / np.sqrt(np.maximum(kk[:, 0], 1e-12)))[:, None, None]
    pair = v[:, :, None] * k[:, None, :] / np.maximum(kk[:, :, None], 1e-12)
    return np.concatenate([E, E + 0.5 * pair, E + pair], 0)


def analyse(out: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """{'first': (cat, msg) or None, 'checks': {requirement: (ok, msg)}}; ``out`` is
    load_outputs()'s dict."""
    checks: dict[str, tuple[bool, str]] = {}
    if not isinstance(out, dict):
        return {"first": ("interface", "no probe outputs"), "checks": checks}
    err = out.get("error")
    if err is not None:
        cat = "decay" if str(err).startswith("memory.decay") else "interface"
        return {"first": (cat, str(err)[-800:]), "checks": checks}
    c, inputs = ctx["cfg"], ctx["inputs"]
    N, T, Q = c["pairs"], c["T"], c["q"]
    B, D = 2 * N, c["d_model"]
    p = out
    try:
        echo = _get(p, "inputs", "the echoed inputs")
        for k in ("x", "R"):
            e = arr(_get(echo, k, f"inputs.{k}"), inputs[k].shape, f"inputs.{k}")
            if _max_rel_diff(e, inputs[k].astype(np.float64)) > 1e-6:
                raise Bad("interface", f"{OUT_NAME} was not computed from this run's inputs "
                                       f"(inputs.{k} differs from probe_inputs.npz)")
        main = mem_run(p, "main", B, T, c)
        causal = mem_run(p, "causal", B, T, c)
        sR = mem_run(p, "state_R", B, T, c)
        R = inputs["R"].astype(np.float64)
        tok = mem_run(p, "tok", N, T, c)
        known = mem_run(p, "known", 3 * N, T, c)
        K0 = known_states(tok["k"][:, 0], tok["v"][:, 0], inputs)
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
        bcausal = arr(_get(_get(p, "block_causal", "block_causal"), "out", "block(x')"), (B, T, D),
                      "block(x') output")
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
            t = c["recur"][i]
            rep, nov = fm["b"][2 * i, t], fm["b"][2 * i + 1, t]
            if not all(np.isfinite(x) for x in (rep, nov)) or nov <= 1e-9:
                raise Bad("no_surprise_gate", f"pair {i}: write strengths at step {t} not "
                                              f"measurable ({rep:.3g}, {nov:.3g})")
            if not rep <= SURPRISE_RATIO * nov:
                raise Bad("no_surprise_gate", f"pair {i}: a token recurring at step {t} after it "
                                              f"was written at step {c['first'][i]} is written with "
                                              f"strength {rep:.4g}; after a different token, {nov:.4g}")
        checks["no_surprise_gate"] = (True, "")
    except Bad as e:
        checks["no_surprise_gate"] = (False, e.msg)

    # 5. gating
    try:
        da = arr(_get(blk, "attn_direct", "block.attn(x)"), (B, T, D), "block.attn(x)", "gating")
        dm = arr(_get(blk, "mem_direct", "block.memory(x)"), (B, T, D), "block.memory(x)", "gating")
        if _max_rel_diff(da, battn) > DIRECT_RTOL or _max_rel_diff(dm, bmem) > DIRECT_RTOL:
            raise Bad("gating", "last_attn/last_mem are not what self.attn(x)/self.memory(x) return "
                                f"(relative differences {_max_rel_diff(da, battn):.2e}, "
                                f"{_max_rel_diff(dm, bmem):.2e})")
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
