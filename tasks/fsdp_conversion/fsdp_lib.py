"""Shared pieces of tasks/fsdp_conversion: the instance configs, the workspace sources
(model.py, data.py, train.py), the expected sharding set, and the pure verdict that turns the
grader's JSON into a pass or a named failure category.

Everything here is our own code: the pytest process may import it (and torch) freely; it never
imports anything the agent wrote.
"""
from __future__ import annotations

import json
import math
import random
import textwrap

MIN_OWN_PARAMS = 4096  # shard a module when its own (non-recursive) parameter count is MORE than this
SCRIPT = "train_fsdp.py"
CHECKPOINT = "checkpoint.pt"
EPOCHS = 3
BATCH = 16  # per process
LR = 1e-2
LOSS_MARGIN = 1.0  # the saved model's mean loss must be below ln(vocab) - LOSS_MARGIN

# knobs of the model; the agent sees one instance, the grader uses a different one (same code)
D_CHOICES = (24, 32, 40)
VOCAB_CHOICES = (96, 128, 160, 192)
CTX_CHOICES = (16, 32, 160)
LAYER_CHOICES = (2, 3)
RATIO_CHOICES = (2, 4)
N_CHOICES = (192, 256, 320)
SEQ_LEN = 12


def config(seed: int, hidden: bool) -> dict:
    """The model/data configuration of instance `seed`: visible (workspace) or hidden (grading)."""
    rng = random.Random(seed * 7919 + (1 if hidden else 0))
    while True:
        cfg = {
            "vocab": rng.choice(VOCAB_CHOICES),
            "d_model": rng.choice(D_CHOICES),
            "n_heads": 4,
            "n_layers": rng.choice(LAYER_CHOICES),
            "ctx": rng.choice(CTX_CHOICES),
            "mlp_ratio": rng.choice(RATIO_CHOICES),
            "n_sequences": rng.choice(N_CHOICES),
            "seq_len": SEQ_LEN,
            "data_seed": rng.randrange(10**6),
        }
        if not hidden:
            return cfg
        vis = config(seed, hidden=False)
        # the hidden instance must shard a different set of module paths than the visible one,
        # and a recursive parameter count must select a different set than the own count
        want = expected_sharded(cfg)
        if want != expected_sharded(vis) and want != recursive_sharded(cfg):
            return cfg


# ------------------------------------------------------------------ own-parameter bookkeeping
def own_params(cfg: dict) -> dict[str, tuple[str, int]]:
    """path -> (class name, own parameter count) for every module of TinyTransformer(cfg),
    computed from the architecture (no torch needed). The root is ''."""
    V, d, L, C, r = cfg["vocab"], cfg["d_model"], cfg["n_layers"], cfg["ctx"], cfg["mlp_ratio"]
    out = {"": ("TinyTransformer", d),  # out_scale parameter of shape [d]
           "tok_emb": ("Embedding", V * d),
           "pos": ("PositionTable", C * d),
           "blocks": ("ModuleList", 0)}
    for i in range(L):
        p = f"blocks.{i}"
        out[p] = ("TransformerBlock", 0)
        out[p + ".ln1"] = ("LayerNorm", 2 * d)
        out[p + ".attn"] = ("Attention", 0)
        out[p + ".attn.qkv"] = ("Linear", 3 * d * d + 3 * d)
        out[p + ".attn.proj"] = ("Linear", d * d + d)
        out[p + ".ln2"] = ("LayerNorm", 2 * d)
        out[p + ".mlp"] = ("Sequential", 0)
        out[p + ".mlp.0"] = ("Linear", d * r * d + r * d)
        out[p + ".mlp.1"] = ("GELU", 0)
        out[p + ".mlp.2"] = ("Linear", r * d * d + d)
    out["head"] = ("Sequential", 0)
    out["head.0"] = ("LayerNorm", 2 * d)
    out["head.1"] = ("Linear", d * V + V)
    return out


def expected_sharded(cfg: dict) -> list[str]:
    """The module paths the rule shards: the root, every TransformerBlock, every module with more
    than MIN_OWN_PARAMS parameters of its own."""
    return sorted(p for p, (cls, n) in own_params(cfg).items()
                  if p == "" or cls == "TransformerBlock" or n > MIN_OWN_PARAMS)


def recursive_sharded(cfg: dict) -> list[str]:
    """What the wrong (recursive-count) rule shards, leaving out the ModuleList (fully_shard
    refuses containers without forward(), so a working script must skip it anyway)."""
    own = own_params(cfg)
    tot = {p: sum(n for q, (_, n) in own.items() if q == p or p == "" or q.startswith(p + "."))
           for p in own}
    return sorted(p for p, (cls, _) in own.items()
                  if p == "" or cls == "TransformerBlock" or (cls != "ModuleList" and tot[p] > MIN_OWN_PARAMS))


def loss_limit(cfg: dict) -> float:
    return math.log(cfg["vocab"]) - LOSS_MARGIN


# ------------------------------------------------------------------ workspace sources
MODEL_TEMPLATE = '''\
"""A small decoder-only transformer for next-token prediction.

build_model() is the only way the training scripts create the model.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = __CONFIG__


class Attention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class TransformerBlock(nn.Module):
    def __init__(self, d_model, n_heads, mlp_ratio):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(),
                                 nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PositionTable(nn.Module):
    """Learned position embeddings, added to the token embeddings."""

    def __init__(self, ctx, d_model):
        super().__init__()
        self.table = nn.Parameter(torch.randn(ctx, d_model) * 0.02)

    def forward(self, x):
        return x + self.table[: x.shape[1]]


class TinyTransformer(nn.Module):
    def __init__(self, vocab, d_model, n_heads, n_layers, ctx, mlp_ratio):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, d_model)
        self.pos = PositionTable(ctx, d_model)
        self.blocks = nn.ModuleList(
            [TransformerBlock(d_model, n_heads, mlp_ratio) for _ in range(n_layers)])
        self.out_scale = nn.Parameter(torch.ones(d_model))
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, vocab))

    def forward(self, tokens):
        x = self.pos(self.tok_emb(tokens))
        for block in self.blocks:
            x = block(x)
        return self.head(x * self.out_scale)  # logits [B, T, vocab]


def build_model():
    c = CONFIG
    return TinyTransformer(c["vocab"], c["d_model"], c["n_heads"], c["n_layers"], c["ctx"],
                           c["mlp_ratio"])
'''

DATA_SRC = '''\
"""Synthetic next-token data: each sequence counts up from a random start in a random step
(modulo the vocabulary size). make_dataset() returns a map-style torch Dataset of (x, y) pairs."""
import torch
from torch.utils.data import Dataset

from model import CONFIG


class TokenDataset(Dataset):
    def __init__(self, n_sequences, seq_len, vocab, seed):
        g = torch.Generator().manual_seed(seed)
        start = torch.randint(0, vocab, (n_sequences, 1), generator=g)
        step = torch.randint(1, 4, (n_sequences, 1), generator=g)
        self.seqs = (start + step * torch.arange(seq_len + 1)) % vocab

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        s = self.seqs[i]
        return s[:-1], s[1:]


def make_dataset():
    c = CONFIG
    return TokenDataset(c["n_sequences"], c["seq_len"], c["vocab"], c["data_seed"])
'''

TRAIN_SRC = f'''\
"""Single-process training of the small transformer in model.py on the data in data.py."""
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from data import make_dataset
from model import build_model

EPOCHS = {EPOCHS}
BATCH_SIZE = {BATCH}
LR = {LR}


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    model = build_model().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    dataset = make_dataset()
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=0)

    for epoch in range(EPOCHS):
        total, count = 0.0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
        print(f"epoch {{epoch}} loss {{total / count:.4f}}")

    torch.save(model.state_dict(), "checkpoint.pt")


if __name__ == "__main__":
    main()
'''


def model_src(cfg: dict) -> str:
    return MODEL_TEMPLATE.replace("__CONFIG__", json.dumps(cfg, indent=4, sort_keys=True))


def data_src() -> str:
    return DATA_SRC


def train_src() -> str:
    return TRAIN_SRC


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


# ------------------------------------------------------------------ the verdict (pure)
class Verdict(Exception):
    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def _fail(cat: str, msg: str):
    raise Verdict(cat, msg)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _int_list(x) -> list[int] | None:
    if not isinstance(x, list) or not all(_is_int(i) for i in x):
        return None
    return x


def _rank_obs(result: dict) -> list[dict]:
    obs = result.get("obs")
    if not isinstance(obs, dict):
        _fail("run_failed", "the run left no observations")
    out = []
    for r in ("0", "1"):
        o = obs.get(r)
        if not isinstance(o, dict):
            _fail("run_failed", f"rank {r} left no observations (it crashed or exited early)\n"
                  + str(result.get("stderr_tail", ""))[-1500:])
        out.append(o)
    return out


def _sharded_paths(o: dict, r: int) -> list[str]:
    models = o.get("models")
    if not isinstance(models, list):
        _fail("not_sharded", f"rank {r}: no model was built with model.build_model()")
    found = []
    for mi, m in enumerate(models):
        mods = m.get("modules") if isinstance(m, dict) else None
        if not isinstance(mods, list):
            continue
        paths = [e.get("path") for e in mods if isinstance(e, dict) and e.get("fsdp") is True]
        if any(not isinstance(p, str) for p in paths):
            _fail("not_sharded", f"rank {r}: malformed module record")
        if paths:
            found.append((mi, sorted(paths)))
    if not found:
        _fail("not_sharded", f"rank {r}: no module of the model built by build_model() was sharded with fully_shard")
    if len(found) > 1:
        _fail("wrong_sharding", f"rank {r}: {len(found)} different models were sharded; shard exactly one")
    return found[0]


def _shard_order(o: dict, r: int, mi: int) -> None:
    """fully_shard must reach every module after all of its sharded submodules (root last)."""
    calls = o.get("shard_calls")
    if not isinstance(calls, list):
        _fail("wrong_sharding", f"rank {r}: malformed fully_shard record")
    order = []
    for c in calls:
        paths = c.get("paths") if isinstance(c, dict) else None
        if not isinstance(paths, list):
            _fail("wrong_sharding", f"rank {r}: malformed fully_shard record")
        for p in paths:
            if isinstance(p, str) and p.startswith(f"{mi}:"):
                order.append(p.split(":", 1)[1])
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if a != b and (a == "" or b.startswith(a + ".")):
                _fail("wrong_sharding", f"rank {r}: fully_shard({a or '<root>'}) was called before fully_shard({b}), "
                      "one of its submodules: shard children before parents, the root last")


def verdict(result, cfg: dict) -> dict:
    """Turn the grader's JSON into scores, or raise Verdict(category, message)."""
    if not isinstance(result, dict):
        _fail("run_failed", "grader returned no result object")
    err = result.get("error")
    if err == "no_script":
        _fail("no_script", f"{SCRIPT} was not found in the workspace root (or is not a regular file)")
    if err is not None:
        _fail("run_failed", f"grading failed: {str(result.get('detail', err))[:500]}")
    if result.get("timed_out") is True:
        _fail("run_failed", "the torchrun job did not finish in time (a rank hung or the job is too slow)")
    obs = _rank_obs(result)
    for r, o in enumerate(obs):
        main = o.get("main")
        if main == "missing":
            _fail("missing_interface", f"{SCRIPT} defines no main() function")
        if main not in ("returned", "exit None", "exit 0"):
            _fail("run_failed", f"rank {r}: main() did not complete ({str(main)[:50]}):\n{str(o.get('error'))[-1500:]}")
    if result.get("exit_code") != 0:
        _fail("run_failed", f"torchrun exited with {result.get('exit_code')!r}:\n" + str(result.get("stderr_tail", ""))[-1500:])

    # -- process group, interface, device, backend
    for r, o in enumerate(obs):
        init = o.get("init")
        if not isinstance(init, list) or not init:
            _fail("no_process_group", f"rank {r}: torch.distributed.init_process_group was never called")
        if len(init) != 1 or not isinstance(init[0], dict):
            _fail("no_process_group", f"rank {r}: init_process_group called {len(init)} times; call it once")
        if init[0].get("backend") != "gloo":
            _fail("wrong_backend", f"rank {r}: the process group uses backend {str(init[0].get('backend'))[:60]!r}; without CUDA it must be gloo")
        for fname in ("pick_device", "pick_backend"):
            n = o.get(f"{fname}_calls")
            if not _is_int(n) or n < 1:
                _fail("missing_interface", f"rank {r}: main() never called {fname}()")
    probe = obs[0].get("probe")
    if not isinstance(probe, dict):
        _fail("missing_interface", "pick_device()/pick_backend() could not be probed")
    for case in ("cuda", "cpu"):
        p = probe.get(case)
        if not isinstance(p, dict):
            _fail("missing_interface", f"probe ({case}) failed: {str(probe.get('error'))[:500]}")
        if "error" in p:
            _fail("missing_interface", f"importing {SCRIPT} for the probe failed: {str(p['error'])[:500]}")
        for fname in ("pick_device", "pick_backend"):
            v = p.get(fname)
            if not isinstance(v, dict) or v.get("missing"):
                _fail("missing_interface", f"{SCRIPT} defines no top-level {fname}() function")
            if "error" in v:
                cat = "wrong_device" if fname == "pick_device" else "wrong_backend"
                _fail(cat, f"{fname}() raised with CUDA {'available' if case == 'cuda' else 'unavailable'}: {str(v['error'])[:300]}")
    cu, cp = probe["cuda"], probe["cpu"]
    dev = cu["pick_device"]
    if dev.get("type") != "cuda" or dev.get("index") != 1:
        got = dev.get("repr", dev.get("str", dev.get("other")))
        _fail("wrong_device", f"with CUDA available, RANK=3 and LOCAL_RANK=1, pick_device() returned {str(got)[:60]!r}; expected cuda:1 (the local rank, not the global rank)")
    sd = cu.get("set_device")
    if not isinstance(sd, list) or any(x != 1 for x in sd):
        _fail("wrong_device", f"with LOCAL_RANK=1, RANK=3, torch.cuda.set_device was called with {str(sd)[:60]}; expected 1")
    if cp["pick_device"].get("type") != "cpu":
        _fail("wrong_device", "without CUDA, pick_device() must return the CPU device")
    if cu["pick_backend"].get("str") != "nccl":
        _fail("wrong_backend", f"with CUDA available pick_backend() returned {str(cu['pick_backend'])[:60]}; expected 'nccl'")
    if cp["pick_backend"].get("str") != "gloo":
        _fail("wrong_backend", f"without CUDA pick_backend() returned {str(cp['pick_backend'])[:60]}; expected 'gloo'")

    # -- sharding
    want = expected_sharded(cfg)
    for r, o in enumerate(obs):
        mi, got = _sharded_paths(o, r)
        if got != want:
            extra = sorted(set(got) - set(want))
            missing = sorted(set(want) - set(got))
            show = lambda ps: [p or "<root>" for p in ps]  # noqa: E731
            _fail("wrong_sharding", f"rank {r}: sharded modules differ from the rule; extra: {show(extra)[:12]}, "
                  f"missing: {show(missing)[:12]}")
        _shard_order(o, r, mi)

    # -- optimizer
    for r, o in enumerate(obs):
        opts = o.get("optimizers")
        if not isinstance(opts, list) or not opts:
            _fail("optimizer_before_sharding", f"rank {r}: no torch.optim optimizer was created")
        for op in opts:
            if not isinstance(op, dict) or not _is_int(op.get("n_params")) or not _is_int(op.get("n_dtensor")):
                _fail("optimizer_before_sharding", f"rank {r}: malformed optimizer record")
            if op["n_params"] == 0 or op["n_dtensor"] != op["n_params"]:
                _fail("optimizer_before_sharding",
                      f"rank {r}: an optimizer ({str(op.get('cls'))[:30]}) was given {op['n_params'] - op['n_dtensor']} of "
                      f"{op['n_params']} parameters that are not sharded DTensors: create it after fully_shard")

    # -- data
    n = cfg["n_sequences"]
    iters = []
    for r, o in enumerate(obs):
        its = o.get("sampler_iters")
        fetches = o.get("fetches")
        if not isinstance(its, list) or not its:
            _fail("data_not_sharded", f"rank {r}: no DistributedSampler was iterated")
        if len(its) != EPOCHS:
            _fail("data_not_sharded", f"rank {r}: the DistributedSampler was iterated {len(its)} times; expected once per epoch ({EPOCHS})")
        if not isinstance(fetches, list) or len(fetches) != len(its):
            _fail("data_not_sharded", f"rank {r}: malformed fetch record")
        if o.get("fetch_before_sampler") != 0:
            _fail("data_not_sharded", f"rank {r}: dataset items were read outside the DistributedSampler's iteration")
        for k, (it, fe) in enumerate(zip(its, fetches)):
            idx = _int_list(it.get("indices")) if isinstance(it, dict) else None
            fe = _int_list(fe)
            if idx is None or fe is None:
                _fail("data_not_sharded", f"rank {r}: malformed sampler record")
            if it.get("num_replicas") != 2 or it.get("rank") != r or it.get("dataset_len") != n:
                _fail("data_not_sharded", f"rank {r}: DistributedSampler has num_replicas={it.get('num_replicas')!r}, "
                      f"rank={it.get('rank')!r} over {it.get('dataset_len')!r} items; expected 2, {r}, {n}")
            if not set(fe) <= set(idx):
                _fail("data_not_sharded", f"rank {r}, epoch {k}: the training loop read items its DistributedSampler did not yield")
            if len(set(fe)) < len(set(idx)) - BATCH:
                _fail("data_not_sharded", f"rank {r}, epoch {k}: only {len(set(fe))} of the {len(idx)} items the sampler yielded were read")
        iters.append(its)
    for k in range(EPOCHS):
        a, b = set(iters[0][k]["indices"]), set(iters[1][k]["indices"])
        if a & b or len(a | b) != n:
            _fail("data_not_sharded", f"epoch {k}: the ranks' samples overlap ({len(a & b)} shared) or miss items")
    for r, its in enumerate(iters):
        epochs = [it.get("epoch") for it in its]
        if len(set(map(str, epochs))) != len(epochs):
            _fail("sampler_epoch", f"rank {r}: the sampler's epoch was {epochs} over the {EPOCHS} epochs: call set_epoch(epoch) each epoch")

    # -- checkpoint
    saves = []
    for r, o in enumerate(obs):
        s = o.get("saves")
        if not isinstance(s, list):
            _fail("checkpoint_missing", f"rank {r}: malformed save record")
        saves += [(r, x) for x in s]
    if not saves:
        _fail("checkpoint_missing", "torch.save was never called")
    if len(saves) != 1 or saves[0][0] != 0:
        _fail("checkpoint_rank", f"torch.save was called {len(saves)} time(s) on rank(s) {sorted({r for r, _ in saves})}; "
              "save exactly once, on rank 0")
    path = saves[0][1].get("path") if isinstance(saves[0][1], dict) else None
    if not isinstance(path, str) or path.replace("\\", "/").rsplit("/", 1)[-1] != CHECKPOINT:
        _fail("checkpoint_missing", f"rank 0 saved to {str(path)[:80]!r}, not {CHECKPOINT}")
    ck = result.get("checkpoint")
    if not isinstance(ck, dict):
        _fail("checkpoint_missing", f"{CHECKPOINT} was not left in the working directory ({str(ck)[:40]})")
    for key in ("load_error", "not_dict", "check_error"):
        if key in ck:
            _fail("checkpoint_not_full", f"{CHECKPOINT} is not a plain state dict of tensors loadable with weights_only=True: {str(ck[key])[:400]}")
    for key in ("missing", "unexpected", "bad"):
        v = ck.get(key)
        if not isinstance(v, list):
            _fail("checkpoint_not_full", f"malformed checkpoint report ({key})")
        if v:
            _fail("checkpoint_not_full", f"{CHECKPOINT} is not the full unsharded state dict: {key}: {[str(x)[:80] for x in v[:5]]}")
    loss = ck.get("loss")
    if not isinstance(loss, (int, float)) or isinstance(loss, bool) or not math.isfinite(loss):
        _fail("untrained", f"the checkpoint's loss is not a finite number ({str(loss)[:40]})")
    limit = loss_limit(cfg)
    if loss >= limit:
        _fail("untrained", f"the saved model's loss on the training data is {loss:.3f}, not below {limit:.3f}")

    # -- shutdown
    for r, o in enumerate(obs):
        d = o.get("destroy")
        if not isinstance(d, list) or not d:
            _fail("no_clean_shutdown", f"rank {r}: destroy_process_group() was never called")
        if o.get("initialized_after_main") is not False:
            _fail("no_clean_shutdown", f"rank {r}: the default process group was still initialized when main() returned")
    if result.get("strays_killed") != 0:
        _fail("no_clean_shutdown", f"{result.get('strays_killed')!r} processes were still running after the job ended")
    return {"loss": float(loss)}
