"""Grader of double_softmax: runs in a fresh grading sandbox as `python -I grade_double_softmax.py`.

Workspace: train_digits.py (the agent's), grader_input.json (nonce, the grader's training indices
into load_digits, seed, budget, tolerances; read and deleted before any agent code runs).
Writes result.json (plain JSON; the pytest process turns it into a verdict). No labels of the
held-out digits are here: predictions are made in the pytest process from the trained weights.

Agent code is hostile by assumption: every call into it is wrapped, its stdout/stderr are
swallowed, and the reference functions are bound before it is imported.
"""
import contextlib
import hashlib
import importlib.util
import io
import json
import math
import os
import signal
import sys
import time
import traceback

T0 = time.time()

HERE = os.path.abspath(os.getcwd())
RESULT = os.path.join(HERE, "result.json")
SCRIPT = os.path.join(HERE, "train_digits.py")

with open(os.path.join(HERE, "grader_input.json")) as fh:
    CFG = json.load(fh)
os.unlink(os.path.join(HERE, "grader_input.json"))

result = {"nonce": CFG["nonce"], "errors": {}, "timing": {}}


def lap(name):
    result["timing"][name] = round(time.time() - T0, 2)


_real_stdout, _real_stderr = sys.stdout, sys.stderr


def write_result():
    data = json.dumps(result, allow_nan=True)
    with open(RESULT, "w") as fh:
        fh.write(data)


def short_exc(e):
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return ("".join(tb[-3:]))[-1500:]


@contextlib.contextmanager
def quiet():
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield
    finally:
        sys.stdout, sys.stderr = _real_stdout, _real_stderr


class Overtime(BaseException):
    pass


def _alarm(signum, frame):
    raise Overtime(f"took longer than {CFG['time_limit_s']} s")


def call(stage, fn, *args, **kw):
    """Run agent code; on any exception record it and return (False, None). sys.exit(0) and
    sys.exit() count as a normal return."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(CFG["time_limit_s"]))
    try:
        with quiet():
            return True, fn(*args, **kw)
    except SystemExit as e:
        if e.code in (None, 0):
            return True, None
        result["errors"][stage] = short_exc(e)
        return False, None
    except BaseException as e:  # noqa: BLE001 - agent code may raise anything
        result["errors"][stage] = short_exc(e)
        return False, None
    finally:
        signal.alarm(0)


try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.modules.module import register_module_forward_pre_hook
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    # bound before agent code can monkeypatch anything
    _ce, _linear, _relu = F.cross_entropy, F.linear, torch.relu
    _grad, _Adam, _Linear, _Tensor = torch.autograd.grad, torch.optim.Adam, nn.Linear, torch.Tensor
    _isinstance, _float, _len = isinstance, float, len

    X_all, y_all = load_digits(return_X_y=True)
    idx = np.asarray(CFG["train_idx"], dtype=np.int64)
    Xg = torch.tensor(X_all[idx] / 16.0, dtype=torch.float32)
    yg = torch.tensor(y_all[idx], dtype=torch.long)
    del X_all, y_all
    lap("imports")
except BaseException as e:  # noqa: BLE001
    result["errors"]["grader"] = short_exc(e)
    write_result()
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# observation of optimizer steps (global hooks)
# ---------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.active = False
        self.last_bs = None
        self.records = {}

    def on_forward(self, module, args):
        if self.active and _isinstance(module, _Linear) and module.in_features == 64 \
                and module.out_features == 64 and torch.is_grad_enabled():
            try:
                self.last_bs = int(args[0].shape[0])
            except Exception:  # noqa: BLE001
                self.last_bs = -1

    def on_step(self, opt, args, kwargs):
        if not self.active:
            return
        cls = type(opt)
        recs = []
        for g in opt.param_groups:
            lr = g.get("lr")
            recs.append({
                "opt": f"{cls.__module__}.{cls.__qualname__}",
                "lr": _float(lr.item() if _isinstance(lr, _Tensor) else lr),
                "betas": [_float(b) for b in g.get("betas", ())],
                "eps": g.get("eps"),
                "weight_decay": g.get("weight_decay"),
                "amsgrad": g.get("amsgrad"),
                "maximize": g.get("maximize"),
                "n_params": sum(int(p.numel()) for q in opt.param_groups for p in q["params"]),
                "bs": self.last_bs,
            })
        # one record per step; param groups with differing settings make it "mixed"
        rec = recs[0] if recs and all(r == recs[0] for r in recs) else \
            {"opt": f"{cls.__module__}.{cls.__qualname__} (mixed param groups)"}
        key = json.dumps(rec, sort_keys=True, default=str)
        self.records[key] = self.records.get(key, 0) + 1
        self.last_bs = None

    def report(self):
        return {"records": [[json.loads(k), v] for k, v in sorted(self.records.items())]}


rec = Recorder()
h_fwd = register_module_forward_pre_hook(rec.on_forward)
h_step = register_optimizer_step_pre_hook(rec.on_step)


def observe(stage, fn, *args):
    rec.__init__()
    rec.active = True
    try:
        return call(stage, fn, *args)
    finally:
        rec.active = False


def digest(t):
    arr = np.ascontiguousarray(t.detach().cpu().numpy())
    return f"{arr.dtype.name}|{list(arr.shape)}|{hashlib.sha256(arr.tobytes()).hexdigest()}"


def linears_of(model):
    return [m for m in model.modules() if _isinstance(m, _Linear)]


def main():
    # 1. import the agent's module (only train_digits.py)
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_digits"] = mod
    ok, _ = call("import", spec.loader.exec_module, mod)
    lap("agent_import")
    if not ok:
        return
    for name in ("load_data", "build_model", "make_loss", "train", "main"):
        if not callable(getattr(mod, name, None)):
            result["errors"]["import"] = f"train_digits.{name} is missing or not callable"
            return

    # 2. load_data() unchanged
    ok, data = call("load_data", mod.load_data)
    if ok:
        try:
            result["data_digest"] = [digest(t) for t in data] if (
                _isinstance(data, (tuple, list)) and _len(data) == 4
                and all(_isinstance(t, _Tensor) for t in data)) else None
        except Exception as e:  # noqa: BLE001
            result["data_digest"] = None
            result["data_error"] = short_exc(e)

    # 3. the budget, observed while main() runs
    observe("main", mod.main)
    result["main_obs"] = rec.report()
    lap("main")
    h_fwd.remove()
    h_step.remove()

    # 4. architecture of a fresh build_model()
    torch.manual_seed(int(CFG["seed"]))
    ok, model = call("build", mod.build_model)
    if not ok:
        return
    if not _isinstance(model, nn.Module):
        result["errors"]["build"] = f"build_model() returned {type(model).__name__}, not nn.Module"
        return
    lins = linears_of(model)
    lin_params = {id(p) for m in lins for p in m.parameters()}
    all_params = list(model.parameters())
    result["arch"] = {
        "linears": [[m.in_features, m.out_features, m.bias is not None] for m in lins],
        "n_params": sum(int(p.numel()) for p in all_params),
        "only_linear_params": all(id(p) in lin_params for p in all_params)
        and _len({id(p) for p in all_params}) == _len(lin_params)
        and all(type(m) is _Linear for m in lins),
    }
    if [[m.in_features, m.out_features] for m in lins] != [[64, 64], [64, 10]] \
            or any(m.bias is None for m in lins):
        return

    # 5. the grader's own training loop with the agent's model and loss
    l1, l2 = lins
    torch.manual_seed(int(CFG["seed"]))
    with torch.no_grad():
        l1.reset_parameters()
        l2.reset_parameters()
    params = [l1.weight, l1.bias, l2.weight, l2.bias]
    for p in params:
        p.requires_grad_(True)
    ok, loss_fn = call("build", mod.make_loss)
    if not ok:
        return
    tol = CFG["tol"]
    opt = _Adam(params, lr=float(CFG["lr"]))
    gen = torch.Generator().manual_seed(int(CFG["seed"]))
    n, bs = _len(Xg), int(CFG["batch_size"])
    gt = {"steps": 0, "worst_loss": 0.0, "worst_grad": 0.0, "loss_error": None,
          "first_bad_loss": None, "first_bad_grad": None, "example_loss": None,
          "example_grad": None}
    result["grader_train"] = gt

    def logits_of(x):
        return _linear(_relu(_linear(x, l1.weight, l1.bias)), l2.weight, l2.bias)

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(CFG["time_limit_s"]))
    try:
        ok, _ = call("build", model.train)
        if not ok:
            return
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(int(CFG["time_limit_s"]))
        for _epoch in range(int(CFG["epochs"])):
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, bs):
                b = perm[start:start + bs]
                xb, yb = Xg[b].clone(), yg[b].clone()
                for p in params:
                    p.grad = None
                try:
                    with quiet():
                        out = model(xb)
                        loss = loss_fn(out, yb)
                        if not _isinstance(loss, _Tensor) or loss.numel() != 1 \
                                or not loss.requires_grad:
                            raise TypeError(f"loss is {type(loss).__name__} "
                                            f"(numel {getattr(loss, 'numel', lambda: '?')()}), "
                                            "expected a scalar tensor with a gradient")
                        loss = loss.reshape(())
                        loss.backward()
                except BaseException as e:  # noqa: BLE001
                    gt["loss_error"] = short_exc(e)
                    return
                with torch.enable_grad():
                    ref = _ce(logits_of(xb), yb)
                    gref = _grad(ref, params)
                lv, rv = _float(loss.detach()), _float(ref.detach())
                r_loss = abs(lv - rv) / (tol["loss_atol"] + tol["loss_rtol"] * abs(rv)) \
                    if math.isfinite(lv) else float("inf")
                ga = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                                for p in params]).detach()
                gr = torch.cat([g.reshape(-1) for g in gref]).detach()
                dn, rn = _float((ga - gr).norm()), _float(gr.norm())
                r_grad = dn / (tol["grad_rtol"] * rn + tol["grad_atol"]) if math.isfinite(dn) \
                    else float("inf")
                if not r_loss <= gt["worst_loss"]:
                    gt["worst_loss"] = r_loss if math.isfinite(r_loss) else None
                if not r_grad <= gt["worst_grad"]:
                    gt["worst_grad"] = r_grad if math.isfinite(r_grad) else None
                if not r_loss <= 1.0 and gt["first_bad_loss"] is None:
                    gt["first_bad_loss"] = gt["steps"]
                    gt["example_loss"] = f"loss_fn gave {lv:.6g}, cross-entropy of logits {rv:.6g}"
                if not r_grad <= 1.0 and gt["first_bad_grad"] is None:
                    gt["first_bad_grad"] = gt["steps"]
                    gt["example_grad"] = f"|g - g_ce| = {dn:.3g}, |g_ce| = {rn:.3g}"
                if gt["worst_loss"] is None or gt["worst_grad"] is None:
                    # non-finite: stop early, the verdict is already clear
                    gt["steps"] += 1
                    return
                opt.step()    # with the agent's gradient: the accuracy reflects the agent's loss
                gt["steps"] += 1
    except Overtime as e:
        gt["loss_error"] = f"the grader's training loop {e}"
        return
    finally:
        signal.alarm(0)
    lap("grader_train")
    # 6. predictions of model(x) follow the logits; the trained weights go back as numbers
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(CFG["time_limit_s"]))
    try:
        with quiet(), torch.no_grad():
            model.eval()
            out = model(Xg.clone())
        if _isinstance(out, _Tensor) and tuple(out.shape) == (n, 10) \
                and bool(torch.isfinite(out).all()):
            with torch.no_grad():
                agree = (out.argmax(dim=1) == logits_of(Xg).argmax(dim=1)).float().mean()
            gt["agree"] = _float(agree)
        else:
            gt["agree"] = None
    except BaseException:  # noqa: BLE001
        gt["agree"] = None
    finally:
        signal.alarm(0)
    result["weights"] = {k: v.detach().double().tolist()
                         for k, v in zip(("W1", "b1", "W2", "b2"), params)}


try:
    main()
except BaseException as e:  # noqa: BLE001
    result["errors"]["grader"] = short_exc(e)
finally:
    sys.stdout, sys.stderr = _real_stdout, _real_stderr
    write_result()
