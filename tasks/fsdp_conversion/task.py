"""tasks/fsdp_conversion: the prompt, the workspace, and the instances (visible and hidden).

The agent gets a working single-process PyTorch job (model.py, data.py, train.py) and writes
train_fsdp.py, which trains the same model with FSDP2 on 2 CPU ranks under torchrun. Grading runs
that script again in a fresh sandbox on a hidden instance (another model/data CONFIG in the
workspace's own model.py, drawn from the rollout's secret instance) and judges what it writes.
"""
from __future__ import annotations

import hashlib
import json
import random

from pytest_rltask import Limits, Task

SCRIPT = "train_fsdp.py"
CHECKPOINT = "checkpoint.pt"
WORLD = 2
SHARDS = tuple(f"shard_rank{r}.pt" for r in range(WORLD))
EPOCHS = 3
BATCH = 16  # per process
LR = 1e-2
SAMPLER_SEED = 0  # DistributedSampler's default seed
RUN_COMMAND = f"python -m torch.distributed.run --nproc_per_node={WORLD} {SCRIPT}"

# knobs of the model and data; the agent sees one draw, grading uses another (same code)
VOCAB_CHOICES = (40, 47, 64, 81, 96)  # odd sizes: dim-0 shards of unequal length
D_CHOICES = (16, 24, 32)
HEAD_CHOICES = (2, 4)
LAYER_CHOICES = (1, 2, 3)
CTX_CHOICES = (16, 24)
RATIO_CHOICES = (2, 3, 4)
N_CHOICES = (64, 96)  # multiples of WORLD * BATCH: every batch is full, drop_last cannot matter
SEQ_CHOICES = (8, 12, 16)


def _rng(instance: int, salt: str) -> random.Random:
    return random.Random(hashlib.sha256(f"fsdp_conversion:{salt}:{instance}".encode()).digest())


def config(instance: int, hidden: bool) -> dict:
    """The model/data CONFIG of an instance: the visible one (workspace) or the hidden one (grading).

    Both come from the secret instance through different hashes, so the visible config says
    nothing about the hidden one. The hidden one is redrawn until it differs from the visible one.
    """
    rng = _rng(instance, "hidden" if hidden else "visible")
    vis = None if not hidden else config(instance, hidden=False)
    while True:
        cfg = {
            "vocab": rng.choice(VOCAB_CHOICES),
            "d_model": rng.choice(D_CHOICES),
            "n_heads": rng.choice(HEAD_CHOICES),
            "n_layers": rng.choice(LAYER_CHOICES),
            "ctx": rng.choice(CTX_CHOICES),
            "mlp_ratio": rng.choice(RATIO_CHOICES),
            "n_sequences": rng.choice(N_CHOICES),
            "seq_len": rng.choice(SEQ_CHOICES),
            "data_seed": rng.randrange(10**9),
            "init_seed": rng.randrange(10**9),
        }
        if cfg["seq_len"] <= cfg["ctx"] and (vis is None or _shape(cfg) != _shape(vis)):
            return cfg


def _shape(cfg: dict) -> tuple:
    """What fixes the state dict's shapes: a stale visible checkpoint never fits the hidden model."""
    return tuple(cfg[k] for k in ("vocab", "d_model", "n_layers", "ctx", "mlp_ratio"))


MODEL_TEMPLATE = '''\
"""A small decoder-only transformer for next-token prediction.

build_model() is the only way the training scripts create the model. Its initial weights are
fixed by CONFIG["init_seed"] (it seeds a private copy of the random generator), so every process
that calls build_model() starts from the same weights.
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
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(c["init_seed"])
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


def hidden_files(instance: int) -> dict[str, str]:
    """The files grading writes over the agent's workspace: its own names, the hidden CONFIG."""
    return {"model.py": model_src(config(instance, hidden=True)), "data.py": data_src()}


PROMPT = f"""\
Your workspace holds a single-process PyTorch training job:
- model.py: a small decoder-only transformer (TinyTransformer, built from TransformerBlock
  modules). build_model() creates it from the CONFIG dict at the top of the file, always with the
  same initial weights (seeded from CONFIG["init_seed"]).
- data.py: make_dataset() returns a map-style Dataset of (x, y) token sequences.
- train.py: trains the model for {EPOCHS} epochs (AdamW, lr {LR}, other settings default, batch
  size {BATCH}) and saves model.state_dict() to {CHECKPOINT}.

Convert it to data-parallel training with FSDP2 and write the result as {SCRIPT} in the workspace
root. It is run as
    {RUN_COMMAND}
(torchrun, {WORLD} processes). Installed: torch 2.13, CPU only: there is no GPU, so use the gloo
backend on the CPU. FSDP1 (FullyShardedDataParallel) does not run without an accelerator; use
FSDP2: `from torch.distributed.fsdp import fully_shard`.

Requirements:
1. Each process joins the process group (torch.distributed.init_process_group, from the
   environment torchrun sets) and builds the model with model.build_model(), keeping its initial
   weights (building it on the meta device and loading those weights after sharding is fine).
2. Shard the model's parameters across the {WORLD} processes with fully_shard (per
   TransformerBlock and/or the whole model, your choice), then create the optimizer (AdamW,
   lr {LR}, other settings default) over the sharded parameters.
3. Data: torch.utils.data.distributed.DistributedSampler over make_dataset() with its defaults
   (shuffle=True, seed={SAMPLER_SEED}; {WORLD} replicas, this process's rank), a DataLoader with
   that sampler and batch size {BATCH} per process, and sampler.set_epoch(epoch) at the start of
   each of the {EPOCHS} epochs. Loss: mean cross-entropy over the process's batch, as in train.py.
   So every optimizer step averages the gradients of the {WORLD} processes' batches.
4. Outputs, in the working directory:
   - {CHECKPOINT}: the full, unsharded trained state dict, written by rank 0 only: plain
     torch.Tensor values with the same keys, shapes and dtypes as build_model().state_dict()
     (e.g. torch.distributed.checkpoint.state_dict.get_model_state_dict with
     StateDictOptions(full_state_dict=True, cpu_offload=True), called on every rank). It must
     load with torch.load(..., weights_only=True).
   - {SHARDS[0]} and {SHARDS[1]}: each rank R writes shard_rank<R>.pt, the part of the trained
     parameters that rank R itself holds: for every key of the state dict, the local shard as a
     plain tensor (for an FSDP2 model, {{k: v.to_local() for k, v in model.state_dict().items()}}),
     also loadable with weights_only=True.
5. Call torch.distributed.destroy_process_group() at the end. The job must finish within 150
   seconds.

How it is graded: your {SCRIPT} is run again with the command above, in a fresh copy of your
workspace in which model.py and data.py hold a DIFFERENT CONFIG (other sizes, dataset and initial
weights), so do not hard-code sizes or results. Nothing else in the workspace changes. Then the
files of 4. are checked: {CHECKPOINT} must match, within float rounding, the weights that the
training described above produces on that CONFIG, and each rank's shard must be that rank's part
of those weights (about half of every parameter, consistent with {CHECKPOINT}).

Try your script with the bash tool, e.g. `{RUN_COMMAND}`. You have at most 25 turns; when
{SCRIPT} is ready, call submit_answer (the answer text is not graded).
"""


def make_workspace(ws, instance: int) -> None:
    cfg = config(instance, hidden=False)
    (ws / "model.py").write_text(model_src(cfg))
    (ws / "data.py").write_text(data_src())
    (ws / "train.py").write_text(train_src())


TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "bash", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=25,
    time_limit=1500,
    limits=Limits(wall_s=180),
    grade_limits=Limits(wall_s=180, cpu_s=300),
)
