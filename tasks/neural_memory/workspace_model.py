"""A small causal transformer with a hook point for a neural long-term memory.

`CausalSelfAttention`, `Layer` and `TinyTransformer` are complete. `NeuralMemory` and
`MemoryBlock` are stubs: implement them (see TASK.md for the exact interface the grader calls).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: [B, T, d_model] -> [B, T, d_model]."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=-1)
        h = self.n_heads
        q, k, v = (t.view(B, T, h, D // h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // h)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        return self.proj(y)


class NeuralMemory(nn.Module):
    """Neural long-term memory (TODO). See TASK.md for the required interface."""

    def __init__(self, d_model: int, d_key: int, d_value: int):
        super().__init__()
        self.d_model, self.d_key, self.d_value = d_model, d_key, d_value
        # TODO: projections, a learnable decay (self.decay, an nn.Parameter), the surprise gate...

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        # TODO: per-timestep memory update and read-out; set self.last_keys, self.last_values,
        # self.last_states as described in TASK.md.
        raise NotImplementedError


class MemoryBlock(nn.Module):
    """Attention branch + memory branch, blended by a gate (TODO)."""

    def __init__(self, d_model: int, n_heads: int, d_key: int, d_value: int):
        super().__init__()
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.memory = NeuralMemory(d_model, d_key, d_value)
        # TODO: the gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # --- hook point: the memory goes here. For now, attention only. ---
        a = self.attn(x)
        self.last_attn = a
        return a


class Layer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_key: int, d_value: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.block = MemoryBlock(d_model, n_heads, d_key, d_value)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.block(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 64, d_model: int = 32, n_heads: int = 4, n_layers: int = 2,
                 d_key: int = 16, d_value: int = 16, max_len: int = 128):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(Layer(d_model, n_heads, d_key, d_value)
                                    for _ in range(n_layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        for layer in self.layers:
            x = layer(x)
        return self.head(self.ln(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    m = TinyTransformer()
    idx = torch.randint(0, 64, (2, 12))
    print(m(idx).shape)
