"""Baseline training script: a conv stem + transformer classifier of small RGB images (CPU).

No memory optimizations at all. `python train.py` reads its configuration from config.json,
the training batches from data.npz (X float32 [steps * batch, 3, image, image], y int64; update
i uses rows i*batch .. (i+1)*batch - 1, in order), the initial weights from init.npz, makes
exactly config["steps"] AdamW updates of config["batch"] samples each, and writes the trained
weights to weights.npz (float32 arrays named as in model.state_dict()).
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

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
    def __init__(self, image, dim, heads, depth, classes):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, dim, 3, padding=1, stride=2), nn.ReLU(),
        )
        self.pos = nn.Parameter(torch.zeros(1, (image // 2) ** 2, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x)                      # [B, dim, image/2, image/2]
        x = x.flatten(2).transpose(1, 2)      # [B, tokens, dim]
        x = x + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x).mean(dim=1))


def main():
    with open("config.json") as fh:
        cfg = json.load(fh)
    torch.set_num_threads(1)
    data = np.load("data.npz")
    X = torch.from_numpy(data["X"])
    y = torch.from_numpy(data["y"])
    model = Net(cfg["image"], cfg["dim"], cfg["heads"], cfg["depth"], cfg["classes"])
    init = np.load("init.npz")
    model.load_state_dict({k: torch.from_numpy(init[k]) for k in init.files})
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    B = cfg["batch"]
    for step in range(cfg["steps"]):
        xb, yb = X[step * B:(step + 1) * B], y[step * B:(step + 1) * B]
        opt.zero_grad(set_to_none=False)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        print(f"step {step + 1} loss {loss.item():.4f}")
    np.savez("weights.npz", **{k: v.detach().float().numpy() for k, v in model.state_dict().items()})


if __name__ == "__main__":
    main()
