"""Harness tracer: `python -I tracer.py MODULE.py STEPS SEED OUT.json` with a token on stdin.

Installs its hooks BEFORE importing the script under test, imports it (its `__main__` block does
not run), calls `train(steps=STEPS, seed=SEED)`, then evaluates the returned model on the held-out
features in X_eval.npy (float32, no autocast, no grad) and writes OUT.json itself, stamped with the
token. Only what runs is recorded: comments, dead code and unused imports leave no trace.

Per optimizer step (global optimizer step pre-hook) it records what happened since the previous
step ("interval"):
  backward      calls of torch.autograd.backward (loss.backward() goes through it)
  fw            batch sizes of the top-level module calls made with grad enabled (training forwards)
  autocast      a module ran inside a training forward under an enabled CPU autocast (bf16/fp16)
  recompute     module forwards re-run during backward (activation checkpointing)
  sdpa          F.scaled_dot_product_attention called in a training forward
  inplace       an in-place op in a training forward: a module with inplace=True, a function
                called with inplace=True, a trailing-underscore op (x.relu_(), x.add_()) or x += y
  channels_last a Conv2d with more than one input channel got a channels_last input
  grads_none    every parameter's .grad was None at the interval's first backward
  fused         the stepping optimizer was built with fused=True
  del_tensor    `del` statements of train.py executed that removed a name bound to a tensor
                (a hook call is inserted before each `del NAME` when train.py is compiled)
The script under test runs in this process and could tamper with all of this; the token makes a
file written by any other means than this tracer invalid, and the test never trusts more than
numbers (see README, "Limits").
"""
import ast
import json
import math
import sys
import time
import traceback


def main():
    path, steps, seed, out_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    token = sys.stdin.readline().strip()
    record = {"ok": False}

    def write(rec):
        rec = dict(rec)
        rec["token"] = token
        with open(out_path, "w") as fh:
            json.dump(rec, fh, allow_nan=False)

    try:
        src = open(path, encoding="utf-8", errors="replace").read()
        tree = ast.parse(src, filename=path)
    except Exception as e:  # noqa: BLE001
        write({"ok": False, "error": f"cannot parse the script: {e!r}"})
        return
    # `del NAME` statements get a call to our hook inserted just before them, so a del counts only
    # when it executes (dead code, comments and unused imports never do)
    class DelHook(ast.NodeTransformer):
        def visit_Delete(self, node):
            names = []
            for t in node.targets:
                elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
                names += [e.id for e in elts if isinstance(e, ast.Name)]
            if not names:
                return node
            call = ast.Expr(ast.Call(func=ast.Name("__memopt_del__", ast.Load()),
                                     args=[ast.Name(n, ast.Load()) for n in names], keywords=[]))
            return [ast.copy_location(call, node), node]

    try:
        tree = ast.fix_missing_locations(DelHook().visit(tree))
        code = compile(tree, path, "exec")
    except Exception as e:  # noqa: BLE001
        write({"ok": False, "error": f"cannot compile the script: {e!r}"})
        return

    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.autograd
    from torch.nn.modules import module as module_mod
    from torch.optim import optimizer as optim_mod
    from torch.overrides import TorchFunctionMode

    torch.set_num_threads(1)
    Tensor = torch.Tensor
    LOWP = (torch.bfloat16, torch.float16)
    st = {"phase": "idle", "depth": 0, "top_grad": False, "in_backward": 0, "optims": []}
    intervals = []

    def new_interval():
        return {"backward": 0, "fw": [], "autocast": False, "recompute": 0, "sdpa": False,
                "inplace": False, "channels_last": False, "grads_none": None, "fused": False,
                "del_tensor": 0}

    st["cur"] = new_interval()

    def training_forward():
        return (st["phase"] == "train" and not st["in_backward"] and st["depth"] > 0
                and st["top_grad"])

    def first_tensor(args):
        for a in args:
            if isinstance(a, Tensor):
                return a
            if isinstance(a, (list, tuple)):
                for b in a:
                    if isinstance(b, Tensor):
                        return b
        return None

    def pre_hook(mod, args):
        if st["phase"] != "train":
            return None
        cur = st["cur"]
        if st["in_backward"]:
            cur["recompute"] += 1
            return None
        if st["depth"] == 0:
            st["top_grad"] = torch.is_grad_enabled()
            if st["top_grad"]:
                t = first_tensor(args)
                cur["fw"].append(int(t.shape[0]) if t is not None and t.dim() > 0 else -1)
                st["mode"] = Mode()
                st["mode"].__enter__()
        st["depth"] += 1
        if st["top_grad"]:
            try:
                if torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") in LOWP:
                    cur["autocast"] = True
            except Exception:  # noqa: BLE001
                pass
            if getattr(mod, "inplace", False) is True:
                cur["inplace"] = True
            if isinstance(mod, nn.Conv2d):
                t = first_tensor(args)
                if (t is not None and t.dim() == 4 and t.shape[1] > 1
                        and t.is_contiguous(memory_format=torch.channels_last)
                        and not t.is_contiguous()):
                    cur["channels_last"] = True
        return None

    def post_hook(mod, args, out):
        if st["phase"] == "train" and not st["in_backward"] and st["depth"] > 0:
            st["depth"] -= 1
            if st["depth"] == 0 and st.get("mode") is not None:
                m, st["mode"] = st["mode"], None
                m.__exit__(None, None, None)
        return None

    module_mod.register_module_forward_pre_hook(pre_hook)
    module_mod.register_module_forward_hook(post_hook, always_call=True)

    orig_backward = torch.autograd.backward

    def backward(*args, **kwargs):
        if st["phase"] == "train" and not st["in_backward"]:
            cur = st["cur"]
            if cur["backward"] == 0:
                none = True
                for o in st["optims"]:
                    for g in o.param_groups:
                        for p in g["params"]:
                            if p.grad is not None:
                                none = False
                cur["grads_none"] = none
            cur["backward"] += 1
        st["in_backward"] += 1
        try:
            return orig_backward(*args, **kwargs)
        finally:
            st["in_backward"] -= 1

    torch.autograd.backward = backward

    def step_pre_hook(opt, args, kwargs):
        if st["phase"] != "train":
            return None
        cur = st["cur"]
        cur["fused"] = bool(getattr(opt, "defaults", {}).get("fused") is True)
        if not any(o is opt for o in st["optims"]):
            st["optims"].append(opt)
        intervals.append(cur)
        st["cur"] = new_interval()
        return None

    optim_mod.register_optimizer_step_pre_hook(step_pre_hook)

    orig_sdpa = F.scaled_dot_product_attention

    def sdpa(*args, **kwargs):
        if training_forward():
            st["cur"]["sdpa"] = True
        return orig_sdpa(*args, **kwargs)

    F.scaled_dot_product_attention = sdpa

    NOT_INPLACE = {"requires_grad_", "retain_grad", "share_memory_", "set_", "resize_",
                   "resize_as_", "record_stream", "uniform_", "normal_", "copy_"}
    IOPS = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__iand__",
            "__ior__", "__ixor__", "__ipow__", "__imatmul__"}

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if training_forward():
                name = getattr(func, "__name__", "") or ""
                if (kwargs.get("inplace") is True
                        or name in IOPS
                        or (name.endswith("_") and not name.startswith("_") and name not in NOT_INPLACE
                            and args and isinstance(args[0], Tensor))):
                    st["cur"]["inplace"] = True
            return func(*args, **kwargs)

    def del_hook(*values):
        if st["phase"] == "train":
            for v in values:
                if isinstance(v, Tensor) or (isinstance(v, (list, tuple)) and v
                                             and all(isinstance(x, Tensor) for x in v)):
                    st["cur"]["del_tensor"] += 1
                    break

    # ---- import the script under test (its top level runs with recording off)
    try:
        import types
        mod = types.ModuleType("train_under_test")
        mod.__file__ = path
        mod.__dict__["__memopt_del__"] = del_hook
        sys.modules["train_under_test"] = mod
        exec(code, mod.__dict__)
        fn = getattr(mod, "train", None)
        if not callable(fn):
            write({"ok": False, "error": "train.py defines no callable train(steps, seed)"})
            return
    except BaseException as e:  # noqa: BLE001  (SystemExit too)
        write({"ok": False, "error": "importing train.py raised: "
               + "".join(traceback.format_exception(e))[-1500:]})
        return

    # ---- the traced training run
    model = None
    t0 = time.monotonic()
    try:
        st["phase"] = "train"
        model = fn(steps=steps, seed=seed)
    except BaseException as e:  # noqa: BLE001
        st["phase"] = "idle"
        write({"ok": False, "error": "train(steps, seed) raised: "
               + "".join(traceback.format_exception(e))[-1500:],
               "intervals": intervals})
        return
    finally:
        st["phase"] = "idle"
    train_s = round(time.monotonic() - t0, 2)

    # ---- our own evaluation of the returned model
    try:
        if not isinstance(model, nn.Module):
            write({"ok": False, "error": f"train() returned {type(model).__name__}, not an nn.Module",
                   "intervals": intervals})
            return
        X = torch.from_numpy(np.load("X_eval.npy", allow_pickle=False)).float().contiguous()
        model.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, X.shape[0], 128):
                o = model(X[i:i + 128].clone())
                if not isinstance(o, Tensor):
                    raise TypeError(f"model returned {type(o).__name__}, not a tensor")
                outs.append(o.detach().float().reshape(o.shape[0], -1))
        logits = torch.cat(outs).tolist()
        rows = [[v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
                 for v in row] for row in logits]
    except BaseException as e:  # noqa: BLE001
        write({"ok": False, "error": "evaluating the trained model raised: "
               + "".join(traceback.format_exception(e))[-1500:], "intervals": intervals})
        return
    write({"ok": True, "intervals": intervals, "logits": rows, "train_s": train_s})


main()
