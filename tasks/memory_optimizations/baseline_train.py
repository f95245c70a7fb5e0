"""Baseline training script: a small conv + transformer classifier on 3x8x8 digit images.

No memory optimizations at all. The grader imports this file and calls train(steps, seed);
`python train.py --steps 60` runs the same thing from the command line.
"""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

BATCH = 64  # samples per optimizer update
LR = 1e-3
DIM = 32
HEADS = 2


def load_data(path="data.npz"):
    d = np.load(path)
    return torch.from_numpy(d["X"]).float(), torch.from_numpy(d["y"]).long()


class Block(nn.Module):
    def __init__(self, dim=DIM, heads=HEADS):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(2 * dim, dim)

    def attention(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        att = att.softmax(dim=-1)
        y = att @ v
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        x = x + self.fc2(self.act(self.fc1(self.ln2(x))))
        return x


class Net(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, DIM, 3, padding=1, stride=2), nn.ReLU(),
        )
        self.pos = nn.Parameter(torch.zeros(1, 16, DIM))
        self.blocks = nn.ModuleList([Block() for _ in range(2)])
        self.ln = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, n_classes)

    def forward(self, x):
        x = self.stem(x)                      # [B, DIM, 4, 4]
        x = x.flatten(2).transpose(1, 2)      # [B, 16, DIM]
        x = x + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x).mean(dim=1))


def train(steps: int = 200, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    X, y = load_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    model = Net()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    step = 0
    while step < steps:
        for xb, yb in loader:
            opt.zero_grad(set_to_none=False)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0:
                print(f"step {step} loss {loss.item():.4f}")
            if step >= steps:
                break
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    train(args.steps, args.seed)
