"""Run NeuralMemory and MemoryBlock from model.py on probe_inputs.npz; save what they return.

Usage: python check_memory.py   (reads probe_config.json and probe_inputs.npz, writes
probe_outputs.npz). The grader runs exactly this file, unchanged, on its own probe inputs
written under the same names; everything it decides, it decides from probe_outputs.npz.
"""
import json
import traceback

import numpy as np
import torch

from model import MemoryBlock, NeuralMemory

torch.set_num_threads(1)
OUT = {}


def save(name, t):
    OUT[name] = np.asarray(t.detach().cpu().double().numpy() if torch.is_tensor(t) else t)


def run(mem, prefix, x, state=None):
    y = mem(x) if state is None else mem(x, state=state)
    save(prefix + ".y", y)
    for attr in ("last_keys", "last_values", "last_states"):
        save(prefix + "." + attr[5:], getattr(mem, attr))


def main(stage):
    with open("probe_config.json") as f:
        c = json.load(f)
    d = np.load("probe_inputs.npz")
    t = {k: torch.tensor(d[k], dtype=torch.float32) for k in d.files}
    D, H, DK, DV, N = c["d_model"], c["n_heads"], c["d_key"], c["d_value"], c["pairs"]
    save("inputs.x", t["x"])
    save("inputs.R", t["R"])

    stage[0] = "NeuralMemory(d_model, d_key, d_value)"
    torch.manual_seed(c["init_seed"])
    mem = NeuralMemory(D, DK, DV)
    stage[0] = "memory(x)"
    run(mem, "main", t["x"])
    run(mem, "causal", t["x_changed"])
    stage[0] = "memory(x, state=R)"
    run(mem, "state_R", t["x"], t["R"].clone())
    # the memory given a state that predicts nothing / half / all of each row's first pair
    stage[0] = "memory(x) for the known-pair probe"
    run(mem, "tok", t["x_known"][:N])
    k, v = torch.tensor(OUT["tok.keys"][:, 0]), torch.tensor(OUT["tok.values"][:, 0])
    kk = (k * k).sum(-1, keepdim=True)
    w = t["E_key"] - (t["E_key"] * k).sum(-1, keepdim=True) / kk.clamp_min(1e-12) * k
    E = t["E_value"][:, :, None] * w[:, None, :]
    E = E / E.flatten(1).norm(dim=1)[:, None, None].clamp_min(1e-12) \
        * (v.norm(dim=1) / kk[:, 0].sqrt().clamp_min(1e-12))[:, None, None]
    pair = v[:, :, None] * k[:, None, :] / kk[:, :, None].clamp_min(1e-12)
    S0 = torch.cat([E, E + 0.5 * pair, E + pair], 0).float()
    save("known_init", S0)
    stage[0] = "memory(x, state=...) for the known-pair probe"
    run(mem, "known", t["x_known"], S0.clone())

    stage[0] = "memory.decay"
    dec = mem.decay
    OUT["decay.is_parameter"] = np.array(isinstance(dec, torch.nn.Parameter))
    OUT["decay.registered"] = np.array(any(p is dec for p in mem.parameters()))
    if OUT["decay.is_parameter"] and OUT["decay.registered"]:
        mem.zero_grad(set_to_none=True)
        y = mem(t["x"])
        (y.float() * t["loss_weights"]).sum().backward()
        OUT["decay.grad"] = np.asarray(np.nan if dec.grad is None else dec.grad.double().numpy())
        orig = dec.detach().clone()
        for name, delta in (("decay_plus", 0.5), ("decay_minus", -0.5)):
            with torch.no_grad():
                dec.copy_(orig + delta)
            run(mem, name, t["x"])
        with torch.no_grad():
            dec.copy_(orig)

    stage[0] = "MemoryBlock(d_model, n_heads, d_key, d_value)"
    torch.manual_seed(c["init_seed"] + 1)
    block = MemoryBlock(D, H, DK, DV)
    stage[0] = "block(x)"
    save("block.out", block(t["x"]))
    for attr in ("last_attn", "last_mem", "last_gate"):
        save("block." + attr[5:], getattr(block, attr))
    save("block_causal.out", block(t["x_changed"]))
    stage[0] = "block.attn(x), block.memory(x)"
    save("block.attn_direct", block.attn(t["x"]))
    save("block.mem_direct", block.memory(t["x"]))


if __name__ == "__main__":
    stage = ["import"]
    try:
        main(stage)
    except Exception:
        OUT["error"] = np.array(stage[0] + ": " + traceback.format_exc()[-1500:])
    np.savez("probe_outputs.npz", **OUT)
    print("saved", len(OUT), "arrays to probe_outputs.npz", "(error)" if "error" in OUT else "")
