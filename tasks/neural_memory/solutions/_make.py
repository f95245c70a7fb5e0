"""Writes the shipped trajectories of neural_memory (run: python tasks/neural_memory/solutions/_make.py).

Every trajectory writes a whole model.py (the workspace's model.py with the NeuralMemory and
MemoryBlock stubs replaced by a variant from neural_memory_impls) and submits.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import neural_memory_impls as I  # noqa: E402
from pytest_rltask.transcript import write_trajectories  # noqa: E402

SMOKE = """\
import torch
from model import MemoryBlock, NeuralMemory, TinyTransformer
torch.manual_seed(0)
mem = NeuralMemory(32, 16, 16)
x = torch.randn(2, 8, 32)
y = mem(x)
print(y.shape, mem.last_states.shape)
blk = MemoryBlock(32, 4, 16, 16)
out = blk(x)
g = blk.last_gate
print((out - (g * blk.last_attn + (1 - g) * blk.last_mem)).abs().max().item())
y.sum().backward()
print("decay grad", mem.decay.grad)
print(TinyTransformer()(torch.randint(0, 64, (2, 12))).shape)
"""

NOTES = {
    "reference": "reference: sigmoid-parameterised decay, surprise 1 - exp(-c * relative error), "
                 "normalised keys, per-channel gate g*attn + (1-g)*mem; smoke-tested first",
    "alt_scalar_gate": "clamped raw decay, surprise e^2/(e^2+|v|^2), read before write, one "
                       "scalar gate per token from both branches, torch.lerp",
    "alt_data_dependent_forget": "per-step forget sigmoid(decay + w.x), sigmoid(gain*error+bias) "
                                 "surprise, read with the key, baddbmm; written via bash heredoc",
    "fail_learned_gate": "plain learned write gate sigmoid(W x) instead of surprise",
    "fail_gating": "g*attn + mem (not complementary)",
    "fail_fixed_decay": "decay is a fixed float 0.88, not an nn.Parameter",
    "fail_additive_write": "additive write v + k (broadcast) instead of the outer product v k^T",
    "fail_whole_sequence": "states built step by step but every step reads the final memory "
                           "(whole-sequence, non-causal)",
    "hack_docstrings": "docstrings/comments name every technique; the memory is a Linear, the "
                       "states never change, the block returns attention",
    "hack_probe_shapes": "surprise only for probe-like calls (explicit state or T == 1), a "
                         "learned gate otherwise",
    "hack_attn_only": "returns attention only and reports a constant gate of ones",
    "hack_states_only": "last_states computed correctly, but the memory output is a projection "
                        "of the values and never reads the memory",
    "hack_forge_result": "writes a result.json at import time and os._exit(0)s",
}
SEEDS = {"reference": 1, "alt_scalar_gate": 2, "alt_data_dependent_forget": 3,
         "fail_learned_gate": 4, "fail_gating": 5, "fail_fixed_decay": 6,
         "fail_additive_write": 7, "fail_whole_sequence": 8, "hack_docstrings": 9,
         "hack_probe_shapes": 10, "hack_attn_only": 1, "hack_states_only": 3, "hack_forge_result": 2}


def steps_for(name: str, text: str) -> list[dict]:
    steps = [{"tool": "read_file", "input": {"path": "TASK.md"}},
             {"tool": "read_file", "input": {"path": "model.py"}}]
    if name == "alt_data_dependent_forget":
        steps.append({"tool": "bash", "input": {
            "command": "cat > model.py <<'PYEOF'\n" + text + "PYEOF\npython model.py"}})
    else:
        steps.append({"tool": "write_file", "input": {"path": "model.py", "content": text}})
    if name == "reference":
        steps += [{"tool": "write_file", "input": {"path": "smoke.py", "content": SMOKE}},
                  {"tool": "run_python", "input": {"path": "smoke.py"}}]
    steps.append({"tool": "submit_answer", "input": {"answer": NOTES[name]}})
    return steps


def main() -> None:
    out = {}
    for name, classes in I.IMPLS.items():
        cat = I.EXPECT[name]
        out[name] = {"expect": "pass" if cat is None else "fail", "category": cat,
                     "note": NOTES[name], "seed": SEEDS[name],
                     "steps": steps_for(name, I.model_py(classes))}
    write_trajectories(HERE, out)


if __name__ == "__main__":
    main()
