"""tasks/fsdp_conversion: convert a single-process training script to FSDP2 (fully_shard).

The agent gets model.py (a small transformer built from TransformerBlocks), data.py and the
single-process train.py; it writes train_fsdp.py. The grader runs that script under torchrun with
two CPU processes (gloo) in a fresh sandbox, against the grader's own model.py/data.py holding a
*different* instance (sizes differ, so the set of modules the sharding rule selects differs), and
observes what happened; the verdict (expected sharding set, loss limit) is computed here.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from pytest_rltask import Limits, Task, fail  # noqa: E402

import fsdp_lib as lib  # noqa: E402

GRADER = (HERE / "grade_fsdp.py").read_text()
HARNESS = (HERE / "fsdp_harness.py").read_bytes()
CKPT = (HERE / "fsdp_ckpt.py").read_bytes()
MAX_SCRIPT_BYTES = 1024 * 1024

PROMPT = f"""\
Your workspace holds a single-process PyTorch training job:
- model.py: a small decoder-only transformer (class TinyTransformer built from TransformerBlock
  modules); build_model() creates it from the CONFIG dict at the top of the file.
- data.py: make_dataset() returns a map-style Dataset of (x, y) token sequences.
- train.py: trains the model for {lib.EPOCHS} epochs (AdamW, lr {lib.LR}, batch size {lib.BATCH}) and saves
  model.state_dict() to checkpoint.pt.

Convert it to distributed training with FSDP2 and write the result as train_fsdp.py in the
workspace root. It must run with
    python -m torch.distributed.run --nproc_per_node=2 train_fsdp.py
(torchrun). Installed: torch 2.13, CPU only; there is no GPU here, so it runs on the CPU with the
gloo backend. FSDP1 (FullyShardedDataParallel) does not run without an accelerator; use FSDP2:
`from torch.distributed.fsdp import fully_shard`.

Requirements (each is checked):
1. Interface. train_fsdp.py defines top-level functions pick_backend(), pick_device() and main(),
   and runs main() only under `if __name__ == "__main__":`. Importing the file must not start any
   work (no process group, no training). main() calls pick_backend() and pick_device().
   - pick_backend() returns "nccl" if torch.cuda.is_available() else "gloo".
   - pick_device() returns torch.device("cuda", LOCAL_RANK) when torch.cuda.is_available()
     (it may also call torch.cuda.set_device with that index), and torch.device("cpu")
     otherwise. LOCAL_RANK is the process's index on its own machine, read from the LOCAL_RANK
     environment variable that torchrun sets; RANK (the global rank) is a different number on a
     multi-node job and must not be used for the device.
2. Process group: main() calls torch.distributed.init_process_group once, with the backend from
   pick_backend(), using the environment torchrun provides (RANK, WORLD_SIZE, MASTER_ADDR, ...).
3. Sharding rule: build the model with model.build_model(), then call fully_shard on exactly
   these modules, children before their parents and the root model last:
   - every TransformerBlock;
   - every other module that has more than {lib.MIN_OWN_PARAMS} parameters of its OWN, i.e.
     sum(p.numel() for p in module.parameters(recurse=False)) > {lib.MIN_OWN_PARAMS}
     (parameters of its submodules do not count; the rule applies to every module of the model,
     including modules nested inside a TransformerBlock);
   - the root model.
   No other module may be sharded.
4. Create the optimizer (AdamW, lr {lib.LR}) after sharding, so it holds the sharded parameters.
5. Data: a torch.utils.data.distributed.DistributedSampler over the dataset (2 replicas, this
   process's rank, shuffled), a DataLoader with that sampler, batch size {lib.BATCH} per process,
   num_workers=0; call sampler.set_epoch(epoch) at the start of every epoch. Train {lib.EPOCHS} epochs
   and iterate the sampler exactly once per epoch; read no dataset items any other way.
6. Checkpoint: after training, gather a full (unsharded) state dict: plain torch.Tensor values
   with the same keys, full shapes and dtypes as model.state_dict() of an unwrapped model (for
   example torch.distributed.checkpoint.state_dict.get_model_state_dict with
   StateDictOptions(full_state_dict=True, cpu_offload=True), called on every rank). Save it with
   torch.save to checkpoint.pt in the working directory, on rank 0 only: exactly one torch.save
   call in the whole job. It must load with torch.load(..., weights_only=True), and the trained
   model's mean cross-entropy on the dataset must be below ln(vocab size) - {lib.LOSS_MARGIN}
   (train.py's recipe gets well below that).
7. Shutdown: call torch.distributed.destroy_process_group() at the end; leave no processes behind.
   main() must return normally on both ranks, and the whole job must finish within 150 seconds.

How it is graded: only train_fsdp.py is copied into a fresh folder next to the grader's own
model.py and data.py. These have the same code as yours but a DIFFERENT CONFIG (other vocabulary
size, width, depth, context length, MLP ratio and dataset size), so the set of modules the rule in
3 selects differs from your copy's: apply the rule by inspecting the modules, do not hard-code
names or sizes. The job is run with torchrun, 2 processes, gloo, on CPU; observers record which
modules end up sharded, when optimizers are created and whether their parameters are DTensors,
which indices each rank's DistributedSampler yields and which dataset items each rank reads,
process-group setup/teardown and every torch.save call. pick_device()/pick_backend() are also
called with CUDA faked as available and RANK=3, LOCAL_RANK=1. Then checkpoint.pt is loaded with
weights_only=True in a separate process and compared with the model.

To try your script, use the bash tool, e.g.
    python -m torch.distributed.run --nproc_per_node=2 train_fsdp.py
You have at most 25 turns; when train_fsdp.py is ready, call submit_answer (the answer text is not
graded).
"""


def make_workspace(ws: Path, seed: int) -> None:
    cfg = lib.config(seed, hidden=False)
    (ws / "model.py").write_text(lib.model_src(cfg))
    (ws / "data.py").write_text(lib.data_src())
    (ws / "train.py").write_text(lib.train_src())


TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "bash", "run_python", "submit_answer"],
    files=make_workspace,
    max_steps=25,
    time_limit=1500,
    limits=Limits(wall_s=180),
    grade_limits=Limits(wall_s=300, cpu_s=600),
)


def test_fsdp_conversion(rollout):
    script = rollout.artifact(lib.SCRIPT, "no_script", max_bytes=MAX_SCRIPT_BYTES)
    cfg = lib.config(rollout.seed, hidden=True)
    result = rollout.grade(GRADER, files={
        lib.SCRIPT: script.read_bytes(),
        "model.py": lib.model_src(cfg),
        "data.py": lib.data_src(),
        "fsdp_harness.py": HARNESS,
        "fsdp_ckpt.py": CKPT,
    })
    try:
        scores = lib.verdict(result, cfg)
    except lib.Verdict as v:
        fail(v.category, v.message)
    for k, v in scores.items():
        rollout.score(k, v)
