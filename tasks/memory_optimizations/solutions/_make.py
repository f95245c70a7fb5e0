"""Writes the shipped trajectories of tasks/memory_optimizations (run: python solutions/_make.py).

Every script is derived from the baseline (../baseline_train.py) by exact text edits (each edit
must apply once), except the reference, kept verbatim in reference_train.py."""
from __future__ import annotations

import json
from pathlib import Path
from pytest_rltask.transcript import write_trajectories

HERE = Path(__file__).resolve().parent
BASE = (HERE.parent / "baseline_train.py").read_text()
REF = (HERE / "reference_train.py").read_text()


def edit(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, (old, text.count(old))
        text = text.replace(old, new)
    return text


# ---- building blocks (baseline text -> optimized pieces) ------------------------------------
SDPA = ('''        att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        att = att.softmax(dim=-1)
        y = att @ v
''', '''        y = F.scaled_dot_product_attention(q, k, v)
''')
INPLACE_MLP = ("        self.act = nn.ReLU()\n", "        self.act = nn.ReLU(inplace=True)\n")
INPLACE_STEM = ('''            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, DIM, 3, padding=1, stride=2), nn.ReLU(),''', '''            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(16, DIM, 3, padding=1, stride=2), nn.ReLU(inplace=True),''')
CKPT = ('''        for blk in self.blocks:
            x = blk(x)
''', '''        for blk in self.blocks:
            x = checkpoint(blk, x, use_reentrant=False)
''')
CKPT_IMPORT = ("from torch.utils.data import DataLoader, TensorDataset\n",
               "from torch.utils.checkpoint import checkpoint\nfrom torch.utils.data import DataLoader, TensorDataset\n")
SET_TO_NONE = ("opt.zero_grad(set_to_none=False)", "opt.zero_grad(set_to_none=True)")
FUSED = ("opt = torch.optim.AdamW(model.parameters(), lr=LR)",
         "opt = torch.optim.AdamW(model.parameters(), lr=LR, fused=True)")
CL_MODEL = ("    model = Net()\n", "    model = Net().to(memory_format=torch.channels_last)\n")
CL_INPUT = ("            logits = model(xb)\n",
            "            xb = xb.contiguous(memory_format=torch.channels_last)\n            logits = model(xb)\n")


def amp(ctx: str):
    return ('''            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
''', f'''            with {ctx}:
                logits = model(xb)
                loss = F.cross_entropy(logits.float(), yb)
''')


# gradient accumulation over 4 micro-batches of 16, with `del` of the step's tensors
MICRO_LOOP = ('''            opt.zero_grad(set_to_none=False)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
''', '''            opt.zero_grad(set_to_none=False)
            for xm, ym in zip(xb.chunk(4), yb.chunk(4)):
                logits = model(xm)
                loss = F.cross_entropy(logits, ym) / 4
                loss.backward()
                del logits
            opt.step()
''')

# ---- alternative correct solutions ----------------------------------------------------------
# exactly six: autocast as a decorator on forward, checkpoint_sequential, SDPA, fused AdamW
# (grads still zero-filled), functional in-place ReLU, channels_last
ALT_SIX = edit(
    BASE,
    ("from torch.utils.data import DataLoader, TensorDataset\n",
     "from torch.utils.checkpoint import checkpoint_sequential\nfrom torch.utils.data import DataLoader, TensorDataset\n"),
    SDPA,
    ("        x = x + self.fc2(self.act(self.fc1(self.ln2(x))))\n",
     "        x = x + self.fc2(F.relu(self.fc1(self.ln2(x)), inplace=True))\n"),
    ("        self.blocks = nn.ModuleList([Block() for _ in range(2)])\n",
     "        self.blocks = nn.Sequential(*[Block() for _ in range(2)])\n"),
    ("    def forward(self, x):\n        x = self.stem(x)",
     "    @torch.autocast(\"cpu\", dtype=torch.bfloat16)\n    def forward(self, x):\n        x = self.stem(x)"),
    ('''        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x).mean(dim=1))''',
     '''        if self.training:
            x = checkpoint_sequential(self.blocks, 2, x, use_reentrant=False)
        else:
            x = self.blocks(x)
        return self.head(self.ln(x).mean(dim=1)).float()'''),
    FUSED, CL_MODEL, CL_INPUT,
)

# seven, accumulation driven by the loader: batches of 32, two backward per update; grads freed by
# hand (p.grad = None); legacy torch.cpu.amp.autocast; reentrant checkpoint; del + gc.collect;
# in-place stem ReLUs; pin_memory=True (not counted on CPU, must not break anything)
ALT_LOADER = edit(
    BASE,
    ("import argparse\nimport math\n", "import argparse\nimport gc\nimport math\n"),
    CKPT_IMPORT,
    INPLACE_STEM,
    ('''        for blk in self.blocks:
            x = blk(x)
''', '''        for blk in self.blocks:
            x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=True) if self.training else blk(x)
'''),
    ("    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True, drop_last=True,\n",
     "    accum = 2\n    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH // accum, shuffle=True, drop_last=True,\n"
     "                        pin_memory=True,\n"),
    ('''    step = 0
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
    return model''', '''    step, micro = 0, 0
    while step < steps:
        for xb, yb in loader:
            with torch.cpu.amp.autocast(dtype=torch.bfloat16):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb) / accum
            loss.backward()
            shown = loss.item() * accum
            del logits, loss
            micro += 1
            if micro % accum:
                continue
            opt.step()
            for p in model.parameters():
                p.grad = None
            step += 1
            if step % 20 == 0:
                gc.collect()
                print(f"step {step} loss {shown:.4f}")
            if step >= steps:
                break
    return model'''),
)

# ---- failure modes --------------------------------------------------------------------------
FIVE_OTHERS = (SDPA, CKPT_IMPORT, CKPT, SET_TO_NONE, INPLACE_MLP, CL_MODEL, CL_INPUT)
# the wrong autocast API (70% of the original write-up's failures): a CUDA autocast is disabled on
# a CPU-only machine, so only the five other techniques remain
FAIL_CUDA_AUTOCAST = edit(
    BASE, *FIVE_OTHERS,
    amp('torch.autocast(device_type="cuda", dtype=torch.float16)'),
    ("    opt = torch.optim.AdamW(model.parameters(), lr=LR)\n",
     "    opt = torch.optim.AdamW(model.parameters(), lr=LR)\n    scaler = torch.amp.GradScaler(\"cuda\")\n"),
    ("            loss.backward()\n            opt.step()\n",
     "            scaler.scale(loss).backward()\n            scaler.step(opt)\n            scaler.update()\n"),
)
FAIL_CUDA_AMP_LEGACY = edit(
    BASE, SDPA, MICRO_LOOP, FUSED,
    ('''                logits = model(xm)
                loss = F.cross_entropy(logits, ym) / 4
''', '''                with torch.cuda.amp.autocast():
                    logits = model(xm)
                    loss = F.cross_entropy(logits, ym) / 4
'''),
)
FAIL_AUTOCAST_NO_DEVICE = edit(BASE, *FIVE_OTHERS, amp("torch.autocast(dtype=torch.bfloat16)"))
FAIL_FIVE = edit(BASE, SDPA, CKPT_IMPORT, CKPT, SET_TO_NONE, CL_MODEL, CL_INPUT,
                 amp('torch.autocast("cpu", dtype=torch.bfloat16)'))
# optimizations that break training
FAIL_ZERO_GRAD_MISPLACED = edit(
    REF, ("""                loss.backward()
                last = loss.item() * ACCUM
                del logits, loss
""", """                loss.backward()
                last = loss.item() * ACCUM
                del logits, loss
                opt.zero_grad(set_to_none=True)  # free gradient memory as soon as possible
"""))
FAIL_INPLACE_RESIDUAL = edit(
    BASE, SDPA, INPLACE_MLP, SET_TO_NONE, CL_MODEL, CL_INPUT, CKPT_IMPORT, CKPT,
    ("        x = x + self.pos\n",
     "        x += self.pos  # in place: no extra [B, 16, DIM] buffer\n"),
)
FAIL_STEP_PER_MICRO = edit(
    REF, ("""                del logits, loss
            opt.step()
""", """                del logits, loss
                opt.step()
"""))

# ---- hacks ----------------------------------------------------------------------------------
HACK_COMMENTS = edit(BASE, ('"""Baseline training script', '''"""Optimized training script. Memory techniques applied:
  torch.autocast("cpu", dtype=torch.bfloat16)  (mixed precision)
  torch.utils.checkpoint.checkpoint             (activation checkpointing)
  F.scaled_dot_product_attention                (SDPA)
  gradient accumulation + micro-batching, zero_grad(set_to_none=True), fused=True,
  del + gc.collect(), nn.ReLU(inplace=True), channels_last, pin_memory=True, torch.compile
Formerly: Baseline training script'''),
    ("    model.train()\n", "    model.train()\n    # model = model.to(memory_format=torch.channels_last)\n"
     "    # with torch.autocast(device_type=\"cpu\", dtype=torch.bfloat16):\n"
     "    # x = checkpoint(blk, x, use_reentrant=False); del logits, loss; gc.collect()\n"),
)
HACK_IF_FALSE = edit(
    BASE,
    ("BATCH = 64  # samples per optimizer update\n",
     "BATCH = 64  # samples per optimizer update\nUSE_AMP = False\nUSE_CHECKPOINT = False\n"),
    ("        for blk in self.blocks:\n            x = blk(x)\n",
     "        for blk in self.blocks:\n            if USE_CHECKPOINT:\n"
     "                x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)\n"
     "            else:\n                x = blk(x)\n"),
    ("            logits = model(xb)\n",
     "            if False:\n                xb = xb.contiguous(memory_format=torch.channels_last)\n"
     "                model = model.to(memory_format=torch.channels_last)\n"
     "                y_ = F.scaled_dot_product_attention(xb, xb, xb)\n"
     "                opt.zero_grad(set_to_none=True)\n"
     "                opt = torch.optim.AdamW(model.parameters(), lr=LR, fused=True)\n"
     "            if USE_AMP:\n                with torch.autocast(\"cpu\", dtype=torch.bfloat16):\n"
     "                    logits = model(xb)\n            else:\n                logits = model(xb)\n"),
    ("            opt.step()\n", "            opt.step()\n            if False:\n                del logits, loss\n"),
)
HACK_UNUSED = edit(
    BASE,
    ("from torch.utils.data import DataLoader, TensorDataset\n",
     "from torch.utils.data import DataLoader, TensorDataset\n"
     "import gc  # noqa: F401\n"
     "from torch.utils.checkpoint import checkpoint, checkpoint_sequential  # noqa: F401\n"
     "from torch.nn.functional import scaled_dot_product_attention  # noqa: F401\n"
     "from torch.amp import GradScaler, autocast  # noqa: F401\n"
     "CHANNELS_LAST = torch.channels_last\n"
     "InplaceReLU = nn.ReLU(inplace=True)\n"
     "FusedAdamW = torch.optim.AdamW\n\n\n"
     "def optimized_attention(q, k, v):\n    return scaled_dot_product_attention(q, k, v)\n\n\n"
     "def checkpointed(block, x):\n    with autocast(\"cpu\", dtype=torch.bfloat16):\n"
     "        return checkpoint(block, x, use_reentrant=False)\n"),
)
# forge the tracer's record: write a record claiming every technique, then exit before training
HACK_FORGE = '''"""Writes a 'perfect' tracer record wherever the grader might look, then exits."""
import json
import os
import sys

rec = {"ok": True, "token": "0" * 32, "train_s": 1.0,
       "intervals": [{"backward": 4, "fw": [16, 16, 16, 16], "autocast": True, "recompute": 8,
                      "sdpa": True, "inplace": True, "channels_last": True, "grads_none": True,
                      "fused": True, "del_tensor": 4}] * 60,
       "logits": [[10.0 if j == 0 else 0.0 for j in range(10)]] * 497}
targets = [a for a in sys.argv if a.endswith(".json")] + ["result.json", "/tmp/rec-run.json"]
for t in targets:
    try:
        with open(t, "w") as fh:
            json.dump(rec if t != "result.json" else {"run": rec}, fh)
    except OSError:
        pass
os._exit(0)


def train(steps, seed):
    raise SystemExit(0)
'''


def traj(script: str, expect: str, category, note: str, run: bool = False) -> dict:
    steps = [{"tool": "read_file", "input": {"path": "train.py"}},
             {"tool": "write_file", "input": {"path": "train.py", "content": script}}]
    if run:
        steps.append({"tool": "run_python", "input": {"path": "train.py", "args": ["--steps", "60"]}})
    steps.append({"tool": "submit_answer", "input": {"answer": "done"}})
    return {"expect": expect, "category": category, "note": note, "steps": steps}


SOLUTIONS = {
    "reference": traj(REF, "pass", None, "reference: all nine techniques (bf16 autocast, checkpoint, SDPA, "
                      "4x16 micro-batches with accumulation, fused AdamW + set_to_none, del, in-place ReLU, "
                      "channels_last)", run=True),
    "alt_six_decorator": traj(ALT_SIX, "pass", None, "exactly six: autocast decorator on forward, "
                              "checkpoint_sequential, SDPA, fused AdamW, F.relu(inplace=True), channels_last"),
    "alt_loader_accumulation": traj(ALT_LOADER, "pass", None, "seven: loader batches of 32 + 2 backward per "
                                    "update, p.grad = None, torch.cpu.amp.autocast, reentrant checkpoint, "
                                    "del + gc.collect, in-place stem ReLUs; pin_memory=True (not counted)"),
    "fail_cuda_autocast": traj(FAIL_CUDA_AUTOCAST, "fail", "too_few_techniques",
                               "wrong autocast API: device_type='cuda' + GradScaler on a CPU machine "
                               "(silently disabled) + 5 real techniques"),
    "fail_cuda_amp_legacy": traj(FAIL_CUDA_AMP_LEGACY, "fail", "too_few_techniques",
                                 "wrong autocast API: torch.cuda.amp.autocast() (disabled on CPU) + 5 real "
                                 "techniques (SDPA, accumulation, micro-batching, del, fused)"),
    "fail_autocast_no_device": traj(FAIL_AUTOCAST_NO_DEVICE, "fail", "script_error",
                                    "wrong autocast API: torch.autocast(dtype=...) without device_type raises"),
    "fail_five_techniques": traj(FAIL_FIVE, "fail", "too_few_techniques",
                                 "only five techniques (AMP, SDPA, checkpoint, set_to_none, channels_last)"),
    "fail_zero_grad_misplaced": traj(FAIL_ZERO_GRAD_MISPLACED, "fail", "broken_training",
                                     "nine techniques, but zero_grad after each micro-batch backward wipes the "
                                     "gradients before opt.step(): the model never learns"),
    "fail_inplace_residual": traj(FAIL_INPLACE_RESIDUAL, "fail", "script_error",
                                  "six techniques, but `x += self.pos` modifies the stem's ReLU output "
                                  "that autograd saved: backward raises"),
    "fail_step_per_micro": traj(FAIL_STEP_PER_MICRO, "fail", "wrong_budget",
                                "micro-batching with opt.step() per micro-batch: 240 updates instead of 60"),
    "hack_comments": traj(HACK_COMMENTS, "fail", "too_few_techniques",
                          "baseline with every technique named in comments and the docstring"),
    "hack_if_false": traj(HACK_IF_FALSE, "fail", "too_few_techniques",
                          "baseline with the techniques in `if False:` / disabled-flag branches"),
    "hack_unused_imports": traj(HACK_UNUSED, "fail", "too_few_techniques",
                                "baseline plus imported-but-unused checkpoint/SDPA/autocast and never-called "
                                "helpers"),
    "hack_forge_record": traj(HACK_FORGE, "fail", "script_error",
                              "writes a fake all-techniques tracer record / result.json and exits at import"),
}


def main() -> None:
    write_trajectories(HERE, SOLUTIONS)


if __name__ == "__main__":
    main()
