"""Per-rank wrapper, run by torchrun inside the grading sandbox (never in the pytest process).

It installs observers, runs the agent's train_fsdp.py (compiled and exec'd as a module named
__fsdp_task__, then its main() is called), and writes what it saw to _obs/rank<R>.json:
which modules of the model ended up as FSDP modules, when optimizers were created and whether
their parameters were DTensors, the indices every DistributedSampler iteration yielded and the
dataset items actually fetched, process-group init/destroy, every torch.save call. After main()
returns it probes pick_device()/pick_backend() in a fresh copy of the module with a faked
two-node CUDA environment (LOCAL_RANK=1, RANK=3) and with CUDA unavailable.

Everything the agent's code does runs in this process, so the record is only as trustworthy as
the code is honest; the checkpoint itself is verified in a separate clean process.
"""
import builtins
import datetime
import functools
import json
import os
import sys
import time
import traceback

_open = builtins.open
_dumps = json.dumps
WS = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(WS, "train_fsdp.py")
OBS_DIR = os.path.join(WS, "_obs")
RANK = int(os.environ.get("RANK", "-1"))
T0 = time.monotonic()
_seq = [0]


def seq():
    _seq[0] += 1
    return _seq[0]


obs = {
    "rank": RANK, "local_rank": os.environ.get("LOCAL_RANK"), "world_size": os.environ.get("WORLD_SIZE"),
    "init": [], "destroy": [], "shard_calls": [], "optimizers": [], "sampler_iters": [],
    "set_epoch": [], "fetches": [], "fetch_before_sampler": 0, "saves": [], "models": [],
    "main": None, "error": None, "initialized_after_main": None, "probe": None,
    "pick_device_calls": 0, "pick_backend_calls": 0,
}


def write_obs():
    os.makedirs(OBS_DIR, exist_ok=True)
    obs["seconds"] = round(time.monotonic() - T0, 3)
    with _open(os.path.join(OBS_DIR, f"rank{RANK}.json"), "w") as fh:
        fh.write(_dumps(obs, default=str))


sys.path.insert(0, WS)
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.distributed.fsdp as fsdp_pkg  # noqa: E402
from torch.distributed.fsdp import FSDPModule  # noqa: E402
from torch.distributed.tensor import DTensor  # noqa: E402
from torch.utils.data.distributed import DistributedSampler  # noqa: E402

torch.set_num_threads(1)
import data as data_mod  # noqa: E402  (the grader's copies, not the agent's)
import model as model_mod  # noqa: E402

# ------------------------------------------------------------------ observers
_models = []
_orig_build = model_mod.build_model


def build_model(*a, **k):
    m = _orig_build(*a, **k)
    _models.append(m)
    return m


model_mod.build_model = build_model

_orig_fully_shard = fsdp_pkg.fully_shard


def _path_of(mod):
    for mi, root in enumerate(_models):
        for name, sub in root.named_modules():
            if sub is mod:
                return f"{mi}:{name}"
    return None


@functools.wraps(_orig_fully_shard)
def fully_shard(module, *a, **k):
    mods = list(module) if isinstance(module, (list, tuple)) else [module]
    obs["shard_calls"].append({"seq": seq(), "paths": [_path_of(m) for m in mods],
                               "classes": [type(m).__name__ for m in mods]})
    return _orig_fully_shard(module, *a, **k)


_defining = getattr(_orig_fully_shard, "__globals__", {}).get("__name__")
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("torch.distributed") and _name != _defining and getattr(_mod, "fully_shard", None) is _orig_fully_shard:
        try:
            setattr(_mod, "fully_shard", fully_shard)
        except Exception:
            pass

_orig_opt_init = torch.optim.Optimizer.__init__


def opt_init(self, params, *a, **k):
    _orig_opt_init(self, params, *a, **k)
    if getattr(self, "_fsdp_task_seen", False):
        return
    self._fsdp_task_seen = True
    ps = [p for g in self.param_groups for p in g["params"]]
    obs["optimizers"].append({"seq": seq(), "cls": type(self).__name__, "n_params": len(ps),
                              "n_dtensor": sum(isinstance(p, DTensor) for p in ps)})


torch.optim.Optimizer.__init__ = opt_init

_events = []  # ("iter", k) / ("get", i)
_orig_iter = DistributedSampler.__iter__
_orig_set_epoch = DistributedSampler.set_epoch


def sampler_iter(self):
    idx = [int(i) for i in _orig_iter(self)]
    k = len(obs["sampler_iters"])
    obs["sampler_iters"].append({"seq": seq(), "epoch": int(getattr(self, "epoch", -1)),
                                 "num_replicas": int(self.num_replicas), "rank": int(self.rank),
                                 "dataset_len": len(self.dataset), "indices": idx})
    _events.append(("iter", k))
    return iter(idx)


def set_epoch(self, epoch):
    obs["set_epoch"].append(int(epoch) if isinstance(epoch, int) else str(epoch))
    return _orig_set_epoch(self, epoch)


DistributedSampler.__iter__ = sampler_iter
DistributedSampler.set_epoch = set_epoch

_orig_getitem = data_mod.TokenDataset.__getitem__


def getitem(self, i):
    _events.append(("get", int(i)))
    return _orig_getitem(self, i)


data_mod.TokenDataset.__getitem__ = getitem

_orig_init_pg = dist.init_process_group
_orig_destroy = dist.destroy_process_group


def init_process_group(*a, **k):
    backend = k.get("backend", a[0] if a else None)
    if k.get("timeout") is None and len(a) < 3:
        k["timeout"] = datetime.timedelta(seconds=60)  # a lost peer must not hang for 30 minutes
    rec = {"seq": seq(), "backend_arg": None if backend is None else str(backend)}
    obs["init"].append(rec)
    out = _orig_init_pg(*a, **k)
    try:
        rec["backend"] = str(dist.get_backend())
    except Exception as e:  # noqa: BLE001
        rec["backend"] = f"? {e}"
    return out


def destroy_process_group(*a, **k):
    obs["destroy"].append({"seq": seq(), "default": not a and not k.get("group")})
    return _orig_destroy(*a, **k)


dist.init_process_group = init_process_group
dist.destroy_process_group = destroy_process_group
import torch.distributed.distributed_c10d as c10d  # noqa: E402
c10d.init_process_group = init_process_group
c10d.destroy_process_group = destroy_process_group

_orig_save = torch.save


def save(obj, f, *a, **k):
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else f"<{type(f).__name__}>"
    obs["saves"].append({"seq": seq(), "path": str(where), "obj": type(obj).__name__})
    return _orig_save(obj, f, *a, **k)


torch.save = save
torch.serialization.save = save


# ------------------------------------------------------------------ run the agent's script
def load_namespace(name):
    with _open(SCRIPT, encoding="utf-8") as fh:
        src = fh.read()
    ns = {"__name__": name, "__file__": SCRIPT, "__builtins__": builtins}
    exec(compile(src, SCRIPT, "exec"), ns)
    return ns


def counting(ns, fname):
    fn = ns.get(fname)
    if not callable(fn):
        return

    def wrapper(*a, **k):
        obs[f"{fname}_calls"] += 1
        return fn(*a, **k)
    ns[fname] = wrapper


def probe():
    """pick_device()/pick_backend() in a fresh module copy, with CUDA faked and with no CUDA."""
    res = {}
    saved_env = dict(os.environ)
    cuda = torch.cuda
    saved = {n: getattr(cuda, n) for n in ("is_available", "device_count", "set_device", "current_device")}
    state = {"cuda": True, "set_device": [], "current": 0}

    def set_device(d):
        idx = d.index if isinstance(d, torch.device) else int(d) if not isinstance(d, str) else torch.device(d).index
        state["set_device"].append(idx)
        state["current"] = idx

    try:
        os.environ.update({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
                           "GROUP_RANK": "1", "NODE_RANK": "1", "ROLE_RANK": "3"})
        cuda.is_available = lambda: state["cuda"]
        cuda.device_count = lambda: 2 if state["cuda"] else 0
        cuda.set_device = set_device
        cuda.current_device = lambda: state["current"]
        for case, flag in (("cuda", True), ("cpu", False)):
            state["cuda"], state["set_device"] = flag, []
            r = {}
            try:
                ns = load_namespace("__fsdp_probe__")
                for fname in ("pick_device", "pick_backend"):
                    fn = ns.get(fname)
                    if not callable(fn):
                        r[fname] = {"missing": True}
                        continue
                    try:
                        v = fn()
                        if isinstance(v, torch.device):
                            r[fname] = {"type": v.type, "index": v.index, "repr": str(v)}
                        elif isinstance(v, str):
                            r[fname] = {"str": v[:100]}
                        else:
                            r[fname] = {"other": type(v).__name__}
                    except BaseException as e:  # noqa: BLE001
                        r[fname] = {"error": f"{type(e).__name__}: {e}"[:500]}
                r["set_device"] = [x if isinstance(x, int) or x is None else str(x) for x in state["set_device"]]
            except BaseException as e:  # noqa: BLE001
                r["error"] = f"{type(e).__name__}: {e}"[:500]
            res[case] = r
    finally:
        for n, f in saved.items():
            setattr(cuda, n, f)
        os.environ.clear()
        os.environ.update(saved_env)
    return res


def finish():
    for i, root in enumerate(_models):
        try:
            mods = [{"path": n, "cls": type(m).__name__, "fsdp": isinstance(m, FSDPModule)}
                    for n, m in root.named_modules()]
            n_params = sum(1 for _ in root.parameters())
            n_dt = sum(isinstance(p, DTensor) for p in root.parameters())
        except Exception as e:  # noqa: BLE001
            mods, n_params, n_dt = f"error {e}", 0, 0
        obs["models"].append({"modules": mods, "n_params": n_params, "n_dtensor": n_dt})
    # split dataset fetches by the sampler iteration that preceded them
    cur, per = None, {}
    for kind, v in _events:
        if kind == "iter":
            cur = v
            per.setdefault(v, [])
        elif cur is None:
            obs["fetch_before_sampler"] += 1
        else:
            per[cur].append(v)
    obs["fetches"] = [per.get(k, []) for k in range(len(obs["sampler_iters"]))]


def run():
    try:
        ns = load_namespace("__fsdp_task__")
        main = ns.get("main")
        if not callable(main):
            obs["main"] = "missing"
            return
        counting(ns, "pick_device")
        counting(ns, "pick_backend")
        try:
            main()
            obs["main"] = "returned"
        except SystemExit as e:
            obs["main"] = f"exit {e.code!r}"
    except BaseException as e:  # noqa: BLE001
        obs["main"] = "raised"
        obs["error"] = traceback.format_exc()[-3000:]


run()
try:
    obs["initialized_after_main"] = bool(dist.is_initialized())
    finish()
except BaseException:  # noqa: BLE001
    obs["error"] = (obs["error"] or "") + "\nfinish: " + traceback.format_exc()[-2000:]
write_obs()  # first without the probe: a probe that hangs must not lose the run's record
try:
    obs["probe"] = probe()
except BaseException:  # noqa: BLE001
    obs["probe"] = {"error": traceback.format_exc()[-2000:]}
write_obs()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0 if obs["main"] in ("returned", "exit None", "exit 0") else 1)
