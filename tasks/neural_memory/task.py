"""neural_memory: the prompt, the workspace and every instance's probe inputs (trusted; pytest process).

The agent gets model.py (a small causal transformer whose MemoryBlock uses attention only, with a
NeuralMemory stub), TASK.md (the interface), and check_memory.py with a sample probe
(probe_config.json, probe_inputs.npz). The grader runs ``python check_memory.py`` (its own copy)
with hidden probe inputs derived from ``rollout.instance`` written under those names, and judges
probe_outputs.npz as data (grader.py).
"""
from __future__ import annotations

import functools
import io
import json
import random
from pathlib import Path

import numpy as np

from pytest_rltask import Limits, Task, write_files

HERE = Path(__file__).resolve().parent
MODEL_PY = (HERE / "workspace_model.py").read_text()
RUNNER_NAME = "check_memory.py"
RUNNER_PY = (HERE / RUNNER_NAME).read_text()
CONFIG, INPUTS, OUTPUTS = "probe_config.json", "probe_inputs.npz", "probe_outputs.npz"
RUN_LIMIT_S = 120
PAIRS = 3

PROMPT = """\
`model.py` in your workspace holds a small causal transformer. Its `MemoryBlock` currently \
uses attention only; `NeuralMemory` is a stub. Add a neural long-term memory to it, inspired by \
how biological memory works:

* **Surprise.** We remember what surprises us. The memory should write strongly what it could \
not predict and weakly what it already knows: the strength of each write is a gate driven by the \
memory's prediction error, i.e. how far what the memory currently retrieves for this step's key \
is from this step's value. A plain learned gate on the input is not surprise.
* **Forgetting.** Old memories fade at a rate the model learns.
* **Association.** The memory is a matrix `M` (`d_value x d_key`) that stores key -> value \
associations; each write adds the outer product `v_t k_t^T` of the step's value and key, scaled \
by the surprise gate.
* **Recurrence.** The memory is updated step by step, in time order: the output at step t can \
only depend on inputs up to t.
* **Blending.** Attention (short-term) and memory (long-term) compete for the block's output.

Interface (keep `CausalSelfAttention` as it is; every tensor below is a plain `torch.Tensor`):

`NeuralMemory(d_model, d_key, d_value)`, an `nn.Module`:
- `forward(x, state=None)` with `x` float32 `[B, T, d_model]` and `state` either None (start from \
an all-zero memory) or a float32 `[B, d_value, d_key]` initial memory; returns the memory branch \
output `y`, float32 `[B, T, d_model]` (what the memory retrieves at each step, projected back to \
d_model). It must read the memory: a different initial `state` must change `y`.
- after each forward it sets `self.last_keys` `[B, T, d_key]`, `self.last_values` \
`[B, T, d_value]` (exactly the `k_t`, `v_t` of the writes, and `k_t` is also the key whose \
retrieval the surprise compares with `v_t`), and `self.last_states` `[B, T+1, d_value, d_key]`: \
`last_states[:, 0]` is the initial memory (zeros or `state`) and `last_states[:, t+1]` the memory \
right after step t's update.
- `self.decay` is an `nn.Parameter` registered on the module (any shape) that controls the \
forgetting.

`MemoryBlock(d_model, n_heads, d_key, d_value)`, an `nn.Module` with `self.attn` (a \
`CausalSelfAttention`) and `self.memory` (a `NeuralMemory`):
- `forward(x)`, `x` `[B, T, d_model]` -> `[B, T, d_model]`; each forward calls `self.attn(x)` \
once and `self.memory(x)` once, both on the block's own input `x`, and returns the blend of the \
two (no residual: `Layer` adds it). It sets `self.last_attn` and `self.last_mem` to exactly the tensors those two calls returned \
and `self.last_gate` to the gate `g` (`[B, T, 1]` or `[B, T, d_model]`).

How it is graded: `check_memory.py` in your workspace builds `NeuralMemory` and `MemoryBlock` \
from your `model.py` with the sizes in `probe_config.json` (default initialisation, seeded), runs \
them on the inputs in `probe_inputs.npz` and saves what they return (outputs, keys, values, \
states, gates, the decay's gradient) to `probe_outputs.npz`. The grader does not read your code: \
it runs `python check_memory.py` (its own unchanged copy of that file, started as your \
`run_python` tool starts it) with its own sizes and random inputs written over \
`probe_config.json` and `probe_inputs.npz`, and decides only from `probe_outputs.npz`. The run \
must finish within {limit} s on CPU. You can run `check_memory.py` yourself: it is exactly what \
the grader runs. From those outputs it checks:
1. Recurrence: outputs (memory and block) at steps <= t do not change when inputs after t \
change; `last_states` changes at every step; a different initial `state` changes `y`.
2. Write: from each step to the next, the memory is the previous memory times one forget factor \
in [0, 1] (a single number for the whole matrix, which may depend on the step) plus a \
non-negative multiple of `v_t k_t^T`; nothing else changes it (relative tolerance 1e-3).
3. Decay: `self.decay` is a registered `nn.Parameter`, a loss on `y` gives it a nonzero finite \
gradient, and shifting its value by +-0.5 changes the forget factor.
4. Surprise: the write strength (the multiple of `v_t k_t^T`) is at most 95% as large when the \
memory already predicts the step's pair as when it does not: (a) at the first step of a sequence \
whose initial `state` already maps that step's `k` to its `v`, compared with a `state` that maps \
`k` to zero (a `state` that maps `k` half-way to `v` must give a write strength in between); (b) \
for a token that recurs (nearly the same input) a few steps after it was written, compared with \
the same sequence in which the earlier token was a different one.
5. Blending: `g` is in [0, 1], depends on the input, and is the weight of the attention branch: \
the block output equals the blend of `last_attn` and `last_mem` where `g` = 1 means attention only \
and `g` = 0 means memory only, elementwise (tolerance 1e-5 + 1e-4 x the outputs' scale); both \
branches must actually contribute.

Keep it small and CPU-friendly. When done, call `submit_answer` with a one-line summary (the \
text is not graded; only `model.py` is).
""".replace("{limit}", str(RUN_LIMIT_S))


TASK_MD = "# NeuralMemory / MemoryBlock interface\n\n" + PROMPT.split("Interface (", 1)[1].split(
    "Keep it small", 1)[0].join(["Interface (", ""])


@functools.lru_cache(maxsize=16)
def probe(instance_seed: int, which: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(probe_config, probe inputs) of ``which`` ("workspace": the sample the agent is given;
    "hidden": what the grader writes over it), derived from the secret instance seed only.

    Main input: pairs of rows, identical except at one random step j_i: row 2i has token a_i there,
    row 2i+1 a different token c_i; a_i recurs with noise at t_i = j_i + gap_i (gap 1..3) in
    both. x_changed: x with every step after q replaced. x_known: random rows, three copies per
    token (the runner builds the states that predict nothing / half / all of step 0's pair)."""
    salt = {"workspace": 0x57, "hidden": 0x4E}[which]
    ss = np.random.SeedSequence([instance_seed & (2**63 - 1), salt, 0x4D])
    rng = np.random.default_rng(ss)
    r = random.Random(int(rng.integers(2**62)))
    T = r.randint(9, 14)
    c = {"d_model": r.choice([24, 32, 48]), "n_heads": r.choice([2, 4]), "d_key": r.choice([24, 32]),
         "d_value": r.choice([8, 12, 16]), "T": T, "q": r.randint(1, T - 3), "pairs": PAIRS,
         "init_seed": r.randrange(2**31 - 2)}
    D, DK, DV, N, B = c["d_model"], c["d_key"], c["d_value"], PAIRS, 2 * PAIRS
    x = rng.standard_normal((B, T, D))
    js, ts = [], []
    for i in range(N):
        gap = r.randint(1, 3)
        j = r.randint(0, T - 1 - gap)
        a, cc, noise = (rng.standard_normal(D) for _ in range(3))
        x[2 * i + 1] = x[2 * i]
        x[2 * i, j], x[2 * i + 1, j] = a, cc
        x[2 * i, j + gap] = x[2 * i + 1, j + gap] = a + 0.1 * noise
        js.append(j)
        ts.append(j + gap)
    c["first"], c["recur"] = js, ts
    x2 = x.copy()
    x2[:, c["q"] + 1:] = rng.standard_normal((B, T - c["q"] - 1, D))
    xk = rng.standard_normal((N, T, D))
    inputs = {"x": x, "x_changed": x2, "R": 0.5 * rng.standard_normal((B, DV, DK)),
              "loss_weights": rng.standard_normal((B, T, D)),
              "x_known": np.concatenate([xk, xk, xk]), "E_value": rng.standard_normal((N, DV)),
              "E_key": rng.standard_normal((N, DK))}
    return c, {k: v.astype(np.float32) for k, v in inputs.items()}


def probe_files(instance_seed: int, which: str) -> dict[str, bytes | str]:
    """The runner and its inputs under the workspace's names (the grader's pristine runner too)."""
    c, inputs = probe(instance_seed, which)
    buf = io.BytesIO()
    np.savez(buf, **inputs)
    public = {k: c[k] for k in ("d_model", "n_heads", "d_key", "d_value", "pairs", "init_seed")}
    return {RUNNER_NAME: RUNNER_PY, CONFIG: json.dumps(public, indent=1) + "\n", INPUTS: buf.getvalue()}


def make_workspace(ws: Path, instance_seed: int) -> None:
    ws = Path(ws)
    (ws / "model.py").write_text(MODEL_PY)
    (ws / "TASK.md").write_text(TASK_MD)
    write_files(ws, probe_files(instance_seed, "workspace"))


TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=30,
    time_limit=1200,
    limits=Limits(wall_s=RUN_LIMIT_S, cpu_s=240),
)
