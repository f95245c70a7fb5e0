"""Grader of neural_memory: runs in a fresh grading sandbox as `python -I grade_neural_memory.py`.

Workspace: model.py (the agent's) and grader_input.json (nonce, probe sizes and seeds; read and
deleted before any agent code runs). It imports model.py, builds NeuralMemory and MemoryBlock
with the grader's sizes, runs the behavioural probes and writes the raw tensors it observed
(outputs, keys, values, memory states, gates, hooked branch outputs, the decay's gradient) to
result.json as plain numbers. Every decision is made in the pytest process
(neural_memory_task.verdict), never here.

Agent code is hostile by assumption: every call into it is wrapped (exceptions recorded,
stdout/stderr swallowed, SIGALRM time limit), and the functions used to read its tensors are
bound before it is imported. After writing result.json the script leaves with os._exit.
"""
import contextlib
import importlib.util
import io
import json
import math
import os
import signal
import sys
import traceback

HERE = os.path.abspath(os.getcwd())
RESULT = os.path.join(HERE, "result.json")
with open(os.path.join(HERE, "grader_input.json")) as fh:
    CFG = json.load(fh)
os.unlink(os.path.join(HERE, "grader_input.json"))

result = {"nonce": CFG["nonce"], "error": None, "probes": {}}
_dumps, _open, _exit = json.dumps, open, os._exit


def finish():
    data = _dumps(result, allow_nan=True)
    with _open(RESULT, "w") as fh:
        fh.write(data)
    _exit(0)


def short_exc(e):
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return "".join(tb[-3:])[-1500:]


try:
    import torch
    import torch.nn as nn
except Exception as e:  # noqa: BLE001
    result["error"] = {"stage": "import torch", "msg": short_exc(e)}
    finish()

torch.set_num_threads(1)
Tensor, Parameter, Module = torch.Tensor, nn.Parameter, nn.Module
_detach, _tolist, _to, _cpu = Tensor.detach, Tensor.tolist, Tensor.to, Tensor.cpu
_clone, _randn, _zeros, _manual_seed = Tensor.clone, torch.randn, torch.zeros, torch.manual_seed
_isinstance, _id, _float64 = isinstance, id, torch.float64
_register_hook = Module.register_forward_hook
_tensor, _cat = torch.tensor, torch.cat
_no_grad, _Generator = torch.no_grad, torch.Generator
CALL_LIMIT = int(CFG["call_limit_s"])


class Stop(Exception):
    pass


def _alarm(signum, frame):
    raise TimeoutError(f"call into model.py took longer than {CALL_LIMIT} s")


def call(stage, fn, *args, **kwargs):
    """Run agent code: swallow its output, time-limit it, record a failure and stop."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_LIMIT)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001  (SystemExit included)
        signal.alarm(0)
        result["error"] = {"stage": stage, "msg": short_exc(e)}
        raise Stop() from None
    finally:
        signal.alarm(0)


def plain(stage, t):
    """A tensor from agent code -> nested lists of floats (or a failure naming the stage)."""
    if type(t) is not Tensor and type(t) is not Parameter:
        result["error"] = {"stage": stage, "msg": f"expected a plain torch.Tensor, got {type(t).__name__}"}
        raise Stop()
    return _tolist(_to(_cpu(_detach(t)), _float64))


def attr(stage, obj, name):
    return call(f"{stage}: attribute {name}", getattr, obj, name)


def gen(seed):
    g = _Generator()
    g.manual_seed(seed)
    return g


def main():
    D, H, DK, DV = CFG["d_model"], CFG["n_heads"], CFG["d_key"], CFG["d_value"]
    T, P, Q, NPAIR = CFG["T"], CFG["p"], CFG["q"], CFG["pairs"]
    B = 2 * NPAIR
    P_ = result["probes"]

    g = gen(CFG["x_seed"])
    # ---- main probe input: pairs of rows; row 2i repeats token a_i at p, p+1, row 2i+1 has a
    # novel token c_i at p and a_i at p+1; otherwise the two rows are identical.
    X = _randn(B, T, D, generator=g)
    for i in range(NPAIR):
        X[2 * i + 1] = X[2 * i]
        a, c = _randn(D, generator=g), _randn(D, generator=g)
        X[2 * i, P], X[2 * i, P + 1] = a, a
        X[2 * i + 1, P], X[2 * i + 1, P + 1] = c, a
    X2 = _clone(X)
    X2[:, Q + 1:] = _randn(B, T - Q - 1, D, generator=g)
    R = 0.5 * _randn(B, DV, DK, generator=g)
    W = _randn(B, T, D, generator=g)
    A = _randn(NPAIR, 1, D, generator=g)
    U = _randn(NPAIR, DV, generator=g)
    Wv = _randn(NPAIR, DK, generator=g)

    # every probe input exists before any agent code runs
    spec = importlib.util.spec_from_file_location("model", os.path.join(HERE, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["model"] = mod
    call("import model.py", spec.loader.exec_module, mod)
    NM = attr("NeuralMemory class", mod, "NeuralMemory")
    MB = attr("MemoryBlock class", mod, "MemoryBlock")

    _manual_seed(CFG["init_seed"])
    mem = call("NeuralMemory(d_model, d_key, d_value)", NM, D, DK, DV)
    _manual_seed(CFG["init_seed"] + 1)
    block = call("MemoryBlock(d_model, n_heads, d_key, d_value)", MB, D, H, DK, DV)
    if not _isinstance(mem, Module) or not _isinstance(block, Module):
        result["error"] = {"stage": "constructors", "msg": "NeuralMemory/MemoryBlock are not nn.Modules"}
        raise Stop()

    def run(stage, x, state=None):
        y = call(stage, mem, x) if state is None else call(stage, mem, x, state=state)
        return {"y": plain(stage + ": output", y),
                "keys": plain(stage + ": last_keys", attr(stage, mem, "last_keys")),
                "values": plain(stage + ": last_values", attr(stage, mem, "last_values")),
                "states": plain(stage + ": last_states", attr(stage, mem, "last_states"))}

    with _no_grad():
        P_["main"] = run("memory(x)", X)
        P_["causal"] = run("memory(x') (x changed after step q)", X2)
        P_["state_R"] = run("memory(x, state=R)", X, _clone(R))
        P_["R"] = _tolist(_to(R, _float64))
        # explicit-state surprise probe: 3 memories per token (only unrelated content; half of
        # the token's pair; the whole pair), each with the same unrelated content E (E k = 0)
        tok = run("memory(token) (T=1)", A)
        k = _tensor(tok["keys"], dtype=torch.float32)[:, 0]
        v = _tensor(tok["values"], dtype=torch.float32)[:, 0]
        if k.shape != (NPAIR, DK) or v.shape != (NPAIR, DV):
            result["error"] = {"stage": "memory(token) (T=1)",
                               "msg": f"last_keys/last_values shapes {tuple(k.shape)}, {tuple(v.shape)}"}
            raise Stop()
        kk = (k * k).sum(-1, keepdim=True)
        w = Wv - (Wv * k).sum(-1, keepdim=True) / kk.clamp_min(1e-12) * k
        E = U[:, :, None] * w[:, None, :]
        E = E / E.flatten(1).norm(dim=1)[:, None, None].clamp_min(1e-12) \
            * (v.norm(dim=1) / kk[:, 0].sqrt().clamp_min(1e-12))[:, None, None]
        pair = v[:, :, None] * k[:, None, :] / kk[:, :, None].clamp_min(1e-12)
        S0 = _cat([E, E + 0.5 * pair, E + pair], 0)          # [3*NPAIR, DV, DK]
        A3 = _cat([A, A, A], 0)
        P_["known"] = run("memory(token, state=...)", A3, _clone(S0))
        P_["known_init"] = _tolist(_to(S0, _float64))

    # ---- decay: a registered nn.Parameter that gets a gradient and sets how fast content fades
    dec = attr("memory.decay", mem, "decay")
    info = {"is_parameter": _isinstance(dec, Parameter),
            "registered": any(_id(p) == _id(dec) for p in call("memory.parameters()", lambda: list(mem.parameters())))}
    P_["decay"] = info
    if info["is_parameter"] and info["registered"]:
        call("zero_grad", mem.zero_grad, set_to_none=True)
        y = call("memory(x) with grad", mem, X)
        if not _isinstance(y, Tensor) or not y.requires_grad:
            info["grad"] = None
        else:
            loss = (y.float() * W).sum() if tuple(y.shape) == (B, T, D) else y.float().sum()
            call("backward", loss.backward)
            gr = dec.grad
            info["grad"] = None if gr is None else _tolist(_to(_detach(gr), _float64).flatten())
        with _no_grad():
            orig = _clone(_detach(dec))
            for name, delta in (("plus", 0.5), ("minus", -0.5)):
                call("memory.decay: setting it", dec.copy_, orig + delta)
                P_["decay_" + name] = run(f"memory(x) with decay {delta:+}", X)
            call("memory.decay: setting it", dec.copy_, orig)

    # ---- the block: hooks record what self.attn and self.memory returned
    seen = {"attn": [], "memory": []}
    bm = attr("block.memory", block, "memory")
    ba = attr("block.attn", block, "attn")
    if not _isinstance(bm, NM) or not _isinstance(ba, Module):
        result["error"] = {"stage": "MemoryBlock", "msg": "block.memory is not a NeuralMemory or "
                                                           "block.attn is not an nn.Module"}
        raise Stop()
    h1 = _register_hook(ba, lambda m, i, o: seen["attn"].append(o))
    h2 = _register_hook(bm, lambda m, i, o: seen["memory"].append(o))
    with _no_grad():
        out = call("block(x)", block, X)
        blk = {"out": plain("block(x): output", out),
               "attn": plain("block.last_attn", attr("block", block, "last_attn")),
               "mem": plain("block.last_mem", attr("block", block, "last_mem")),
               "gate": plain("block.last_gate", attr("block", block, "last_gate")),
               "n_attn_calls": len(seen["attn"]), "n_mem_calls": len(seen["memory"])}
        if len(seen["attn"]) == 1 and len(seen["memory"]) == 1:
            blk["hook_attn"] = plain("block.attn output", seen["attn"][0])
            blk["hook_mem"] = plain("block.memory output", seen["memory"][0])
        P_["block"] = blk
        out2 = call("block(x')", block, X2)
        P_["block_causal"] = plain("block(x'): output", out2)
    h1.remove()
    h2.remove()


try:
    main()
except Stop:
    pass
except BaseException as e:  # noqa: BLE001
    if result["error"] is None:
        result["error"] = {"stage": "grader", "msg": short_exc(e)}
finish()
