"""tasks/memory_optimizations: apply at least 6 memory-saving techniques to a baseline training
script (small conv + transformer classifier, CPU) while keeping it training correctly.

Techniques are detected by what actually runs: the grading sandbox imports the agent's train.py
under a harness tracer (tracer.py: module hooks, optimizer step hooks, a scoped TorchFunctionMode,
wrapped autograd.backward and F.scaled_dot_product_attention, executed `del` statements), calls
train(steps=60, seed), and evaluates the returned model on held-out features. The unmodified
baseline is graded the same way in its own sandbox (cached per seed in this process); the test
compares held-out cross-entropy/accuracy with labels regenerated here from the seed.
"""
from __future__ import annotations

import secrets
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helpers live beside this module (works under any import mode)
    sys.path.insert(0, str(HERE))

from pytest_rltask import Limits, Task, fail  # noqa: E402

import memopt_lib as lib  # noqa: E402

RUN_TIMEOUT = 300  # seconds for one traced run (import + train(60 steps) + evaluation)

PROMPT = f"""\
Your workspace holds:
- train.py: a baseline PyTorch training script (a small conv + transformer classifier of 3x8x8
  digit images, 10 classes) with no memory optimizations at all. Read it first.
- data.npz: its training data (X float32 [N, 3, 8, 8], y int64 [N]).

Task: rewrite train.py so that it applies at least {lib.MIN_TECHNIQUES} of the memory-saving
techniques listed below while still training correctly. Everything runs on the CPU (there is no
GPU here nor on the grader). Installed: torch 2.13 (CPU), numpy.

The contract (keep it): train.py defines `train(steps: int, seed: int) -> torch.nn.Module`, which
loads data.npz from the current directory, trains the model with exactly `steps` optimizer updates
(`optimizer.step()` calls), each over 64 training samples as in the baseline, and returns the trained
model. `python train.py --steps 60` runs it from the command line.

How it is graded. Only train.py is copied to a fresh grading environment (with the original
data.npz); there the grader, in a `python -I` process, installs a tracer, imports train.py as a
module (its `if __name__ == "__main__":` block does not run) and calls `train(steps={lib.STEPS},
seed=S)`. Then it evaluates the returned model itself: `model.eval()`, no grad, no autocast, float32
inputs of shape [N, 3, 8, 8] (held-out images), expecting logits of shape [N, 10]. It passes when all
of these hold:
1. train() returns an nn.Module without raising, within {RUN_TIMEOUT} s for import + training +
   evaluation, and makes exactly {lib.STEPS} optimizer updates.
2. Training still works: on the held-out images, the model's mean cross-entropy is at most
   {lib.CE_FACTOR} x the baseline's + {lib.CE_SLACK}, and its accuracy is at least the baseline's
   - {lib.ACC_DROP} (the baseline = the unmodified train.py, same seed, same {lib.STEPS} steps; it
   reaches a cross-entropy of about 1.2 and an accuracy of about 0.69, varying with the seed).
   NaN/inf outputs fail.
3. At least {lib.MIN_TECHNIQUES} of these 9 techniques are observed while train() runs, each on
   EVERY optimizer update (i.e. between each optimizer.step() and the previous one). Only what
   actually executes is observed: comments, code that never runs and unused imports count for
   nothing. A "training forward" below is a call `model(x)` of an nn.Module (through __call__,
   not model.forward(x)) made with gradients enabled.
   a. mixed_precision: the training forward runs under an enabled CPU autocast with bfloat16 or
      float16, e.g. `with torch.autocast(device_type="cpu", dtype=torch.bfloat16):`. (On a GPU one
      would use device_type="cuda" with float16 plus torch.amp.GradScaler; on this machine a CUDA
      autocast, including torch.cuda.amp.autocast, is silently disabled and does not count.
      bfloat16 needs no GradScaler.)
   b. activation_checkpointing: part of the model is recomputed during backward, e.g.
      torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False) or checkpoint_sequential.
   c. sdpa: torch.nn.functional.scaled_dot_product_attention is called inside the training
      forward (instead of the manual softmax(q @ k^T) @ v attention).
   d. gradient_accumulation: at least 2 backward calls (loss.backward()) per optimizer update.
   e. optimizer_memory: gradients are freed instead of zero-filled (every parameter's .grad is None
      when the first backward of each update starts, e.g. optimizer.zero_grad(set_to_none=True)),
      or the optimizer is fused (e.g. torch.optim.AdamW(..., fused=True)). Either counts once.
   f. explicit_freeing: a `del` statement that removes a name bound to a tensor (or a list/tuple
      of tensors) executes during every update, e.g. `del logits, loss` after backward.
      gc.collect() / torch.cuda.empty_cache() are allowed but not required.
   g. micro_batching: each update's 64 samples go through the model in at least 2 training
      forwards, each on fewer than 64 samples, together exactly 64 (e.g. 4 micro-batches of 16).
   h. inplace_ops: an in-place operation inside the training forward: a module built with
      inplace=True (e.g. nn.ReLU(inplace=True)), a function called with inplace=True, a
      trailing-underscore tensor op (x.relu_(), x.add_(y)) or an augmented assignment (x += y).
   i. channels_last: a Conv2d with more than one input channel receives an input in
      torch.channels_last memory format (e.g. model.to(memory_format=torch.channels_last) and
      x = x.contiguous(memory_format=torch.channels_last)).
   Not counted here: pinned memory (only meaningful with CUDA: Tensor.pin_memory() raises on this
   machine, DataLoader(pin_memory=True) only warns), and torch.compile (allowed, but compiling on
   the CPU grader is slow and the time limit above applies; it is not counted).

You can run `python train.py --steps 60` here to check it trains. You have at most 25 turns.
When train.py is ready, call submit_answer (the answer text is not graded; only train.py is).
"""


def make_workspace(ws: Path, seed: int) -> None:
    Xtr, ytr, _, _ = lib.make_data(seed)  # the held-out labels (and features) stay here
    (ws / "train.py").write_text(lib.BASELINE)
    (ws / "data.npz").write_bytes(lib.npz_bytes(X=Xtr, y=ytr))


TASK = Task(
    prompt=PROMPT,
    tools=["write_file", "read_file", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=25,
    time_limit=1800,
    limits=Limits(wall_s=400),
    grade_limits=Limits(wall_s=RUN_TIMEOUT + 60, cpu_s=RUN_TIMEOUT + 60),
)

_BASELINE: dict[int, dict] = {}
_LOCK = threading.Lock()


def run_grader(rollout, script) -> dict:
    """One grading sandbox: train.py traced for lib.STEPS steps; checks the grader's nonce."""
    seed = rollout.seed
    Xtr, ytr, Xe, _ = lib.make_data(seed)
    nonce = secrets.token_hex(16)
    files = {"train.py": script, "tracer.py": lib.TRACER, "data.npz": lib.npz_bytes(X=Xtr, y=ytr),
             "X_eval.npy": lib.npy_bytes(Xe), "nonce.txt": nonce}
    res = rollout.grade(lib.GRADER, files=files, args=[str(lib.STEPS), str(seed), str(RUN_TIMEOUT)])
    if not isinstance(res, dict) or res.get("nonce") != nonce:
        fail("script_error", "result.json was not written by the grader")
    return res


def baseline_result(rollout) -> dict:
    """The unmodified script graded the same way, in its own sandbox; cached per seed."""
    seed = rollout.seed
    with _LOCK:
        if seed not in _BASELINE:
            _BASELINE[seed] = run_grader(rollout, lib.BASELINE)
        return _BASELINE[seed]


def test_memory_optimizations(rollout):
    script = rollout.artifact("train.py", "no_artifact", max_bytes=1_000_000, too_large="script_error")
    agent = run_grader(rollout, script)
    base = baseline_result(rollout)
    _, _, _, y_eval = lib.make_data(rollout.seed)
    try:
        scores = lib.judge(base, agent, y_eval)
    except lib.Verdict as v:
        fail(v.category, v.message)
    rollout.score("eval_ce", scores["eval_ce"])
    rollout.score("eval_acc", scores["eval_acc"])
    rollout.score("n_techniques", scores["n_techniques"])
