"""double_softmax: the prompt, the buggy script, and every instance's data (trusted; pytest process).

The agent gets ``train_digits.py``, a PyTorch MLP (64-64-10) trained on handwritten digits whose
model ends in a softmax while the loss is ``nn.CrossEntropyLoss`` (which applies log-softmax
itself): the network is trained on CE(softmax(logits)), a loss floored at log(1 + 9/e) ~ 1.46 with
a gradient squashed by the softmax Jacobian. It runs and learns, only worse.

The script reads its run from three workspace files (``digits.npz`` the data split,
``init.npz`` the initial weights, ``config.json`` the shuffling seed) and saves the trained
weights to ``weights.npz``. The grader writes other contents over those three files (a hidden
instance derived from ``rollout.instance``) and runs the script as the agent's ``run_python``
does. Per instance: the split, the initial weights, the seed, the model's style (nn.Sequential
or a Module class), how the softmax is spelled, variable names, and two of five harmless decoys.
"""
from __future__ import annotations

import functools
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_rltask import Limits, Task, write_files

SCRIPT_NAME = "train_digits.py"
DATA, INIT, CONFIG, WEIGHTS = "digits.npz", "init.npz", "config.json", "weights.npz"
INPUTS = (DATA, INIT, CONFIG)
EPOCHS, LR, BATCH_SIZE = 20, 1e-3, 64
N_TRAIN, N_TEST, N_HELD = 1347, 225, 225      # 1797 digits: train / test given / held out
PARAM_SHAPES = {"W1": (64, 64), "b1": (64,), "W2": (10, 64), "b2": (10,)}

PROMPT = f"""\
`{SCRIPT_NAME}` in your workspace trains a small PyTorch classifier (an MLP 64-64-10 with a ReLU) \
on handwritten digits and prints the test accuracy. It runs without errors and the network does \
learn, but worse than it should: this network, with exactly the same data, initial weights, \
optimizer and training budget, reaches about 0.95 test accuracy, while this script typically \
lands a few points lower and on some data far lower. Find the bug and fix it in `{SCRIPT_NAME}`. \
Do not work around it by changing the data, the architecture, the initial weights, the \
hyperparameters, the shuffling or the training budget.

How the script is used (keep this contract): it takes everything about a run from files in its \
working directory, `{DATA}` (`X_train` float32 [{N_TRAIN}, 64] raw pixel values 0..16, `y_train` \
int64, `X_test`, `y_test`), `{INIT}` (the initial weights `W1` [64, 64], `b1` [64], `W2` [10, 64], \
`b2` [10] of the two `nn.Linear` layers) and `{CONFIG}` (`seed`, which fixes the order of the \
mini-batches), and at the end saves the trained weights of the two Linear layers to \
`{WEIGHTS}` with the same four names (float32, as `save_weights` does now).

How it is graded: the grader does not read your code. It runs `python {SCRIPT_NAME}` (exactly as \
your `run_python` tool does) on your final workspace, once with the files as they are and once \
with other data, initial weights and seed written over `{DATA}`, `{INIT}` and `{CONFIG}` (same \
names, shapes and format). Each run must exit 0 within a couple of minutes and save `{WEIGHTS}`. \
The grader recomputes each training itself: the same data scaling (pixels / 16), the same initial \
weights, Adam at its default settings with learning rate {LR}, {EPOCHS} epochs of mini-batches of \
{BATCH_SIZE} in the order the script draws them from `seed` (the last mini-batch of an epoch holds \
the remainder), one optimizer step per mini-batch, and as the objective the standard multi-class \
cross-entropy of the network's logits (the output of the last Linear layer), averaged over the \
mini-batch. The weights you save must match that training up to floating-point rounding (1% of \
how far training moves them), and the trained network must classify digits that never appear in \
any of the files with at least 0.88 accuracy.

When you are done, call `submit_answer` with a one-line description of the bug (the text itself is \
not graded).
"""

DECOYS = ("max_scale", "zero_grad_after_step", "eval_not_restored", "train_every_batch",
          "double_cast")


# ------------------------------------------------------------------------------ the instance
@dataclass(frozen=True)
class Instance:
    """One run's inputs (written under the workspace's file names) and the trusted held-out set."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    init: dict[str, np.ndarray]
    seed: int
    X_held: np.ndarray   # never enters a sandbox (nor do its labels)
    y_held: np.ndarray

    def files(self) -> dict[str, bytes]:
        return {DATA: _npz(X_train=self.X_train, y_train=self.y_train, X_test=self.X_test,
                           y_test=self.y_test),
                INIT: _npz(**self.init),
                CONFIG: json.dumps({"seed": self.seed}, indent=1) + "\n"}


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y.astype(np.int64)


@functools.lru_cache(maxsize=16)
def instance(instance_seed: int, which: str) -> Instance:
    """The data of ``which`` ("workspace": the files the agent is given; "hidden": what the grader
    writes over them), derived from the secret instance seed only."""
    salt = {"workspace": 0x57, "hidden": 0x4D}[which]
    rng = np.random.default_rng(np.random.SeedSequence([instance_seed & (2**63 - 1), salt, 0xD5]))
    X, y = _digits()
    perm = rng.permutation(len(y))
    tr, te, ho = perm[:N_TRAIN], perm[N_TRAIN:N_TRAIN + N_TEST], perm[N_TRAIN + N_TEST:]
    assert len(ho) == N_HELD and X[tr].max() == 16.0
    bound = 1.0 / np.sqrt(64.0)          # PyTorch's default Linear initialisation for fan_in 64
    init = {k: rng.uniform(-bound, bound, shape).astype(np.float32)
            for k, shape in PARAM_SHAPES.items()}
    return Instance(X[tr], y[tr], X[te], y[te], init, int(rng.integers(1, 2**31 - 1)),
                    X[ho] / np.float32(16.0), y[ho])


# ------------------------------------------------------------------------------ the script
def instance_params(instance_seed: int) -> dict:
    rng = random.Random(f"double_softmax/{instance_seed}")
    style = rng.choice(["sequential", "class"])
    if style == "sequential":
        softmax = rng.choice(["nn.Softmax(dim=1)", "nn.Softmax(dim=-1)"])
    else:
        softmax = rng.choice(["torch.softmax(logits, dim=1)", "logits.softmax(dim=-1)",
                              "F.softmax(logits, dim=1)"])
    return {"style": style, "softmax": softmax, "decoys": sorted(rng.sample(DECOYS, 2)),
            "opt_name": rng.choice(["optimizer", "opt"]),
            "loss_name": rng.choice(["loss_fn", "criterion"])}


def make_script(instance_seed: int) -> str:
    p = instance_params(instance_seed)
    d = set(p["decoys"])
    opt, crit = p["opt_name"], p["loss_name"]
    imports = "import json\n\nimport numpy as np\nimport torch\nimport torch.nn as nn\n"
    if "F." in p["softmax"]:
        imports += "import torch.nn.functional as F\n"
    scale = ("    scale = X_train.max()  # pixel intensities -> [0, 1]\n" if "max_scale" in d
             else "    scale = 16.0  # pixel intensities are 0..16\n")
    if "double_cast" in d:
        tensors = ("    X_train = torch.tensor(X_train / scale, dtype=torch.float32)\n"
                   "    X_test = torch.tensor(X_test / scale, dtype=torch.float32)\n"
                   "    y_train = torch.tensor(y_train).long()\n"
                   "    y_test = torch.tensor(y_test).long()\n"
                   "    return X_train.float(), y_train.long(), X_test.float(), y_test.long()\n")
    else:
        tensors = ("    return (\n"
                   "        torch.tensor(X_train / scale, dtype=torch.float32),\n"
                   "        torch.tensor(y_train, dtype=torch.long),\n"
                   "        torch.tensor(X_test / scale, dtype=torch.float32),\n"
                   "        torch.tensor(y_test, dtype=torch.long),\n"
                   "    )\n")
    if p["style"] == "sequential":
        model_src = ("def build_model():\n"
                     "    return nn.Sequential(\n"
                     "        nn.Linear(64, 64),\n"
                     "        nn.ReLU(),\n"
                     "        nn.Linear(64, 10),\n"
                     f"        {p['softmax']},\n"
                     "    )\n")
    else:
        model_src = ("class DigitNet(nn.Module):\n"
                     "    def __init__(self, n_in=64, n_hidden=64, n_classes=10):\n"
                     "        super().__init__()\n"
                     "        self.hidden = nn.Linear(n_in, n_hidden)\n"
                     "        self.out = nn.Linear(n_hidden, n_classes)\n"
                     "\n"
                     "    def forward(self, x):\n"
                     "        h = torch.relu(self.hidden(x))\n"
                     "        logits = self.out(h)\n"
                     f"        return {p['softmax']}\n"
                     "\n"
                     "\n"
                     "def build_model():\n"
                     "    return DigitNet()\n")
    if "eval_not_restored" in d:
        acc_src = ("def accuracy(model, X, y):\n"
                   "    model.eval()\n"
                   "    with torch.no_grad():\n"
                   "        pred = model(X).argmax(dim=1)\n"
                   "    return (pred == y).float().mean().item()\n")
    else:
        acc_src = ("def accuracy(model, X, y):\n"
                   "    was_training = model.training\n"
                   "    model.eval()\n"
                   "    with torch.no_grad():\n"
                   "        pred = model(X).argmax(dim=1)\n"
                   "    model.train(was_training)\n"
                   "    return (pred == y).float().mean().item()\n")
    step = []
    if "train_every_batch" in d:
        step.append("            model.train()")
    if "zero_grad_after_step" in d:
        step += [f"            loss = {crit}(model(X[idx]), y[idx])", "            loss.backward()",
                 f"            {opt}.step()", f"            {opt}.zero_grad()"]
    else:
        step += [f"            {opt}.zero_grad()", f"            loss = {crit}(model(X[idx]), y[idx])",
                 "            loss.backward()", f"            {opt}.step()"]
    step_src = "\n".join(step) + "\n"
    pre_loop = "" if "train_every_batch" in d else "    model.train()\n"
    return (
        '"""Train a small MLP on handwritten digits and report test accuracy.\n'
        "\n"
        f"Inputs (working directory): {DATA} (the data split), {INIT} (the initial weights of the two\n"
        f"Linear layers), {CONFIG} (the seed of the mini-batch order). Output: {WEIGHTS}.\n"
        '"""\n'
        f"{imports}"
        "\n"
        "torch.set_num_threads(1)\n"
        "\n"
        f"EPOCHS = {EPOCHS}\n"
        "LR = 1e-3\n"
        f"BATCH_SIZE = {BATCH_SIZE}\n"
        "\n"
        "\n"
        f'def load_data(path="{DATA}"):\n'
        '    """(X_train, y_train, X_test, y_test) as tensors."""\n'
        "    d = np.load(path)\n"
        '    X_train, y_train, X_test, y_test = d["X_train"], d["y_train"], d["X_test"], d["y_test"]\n'
        f"{scale}"
        f"{tensors}"
        "\n"
        "\n"
        f"{model_src}"
        "\n"
        "\n"
        "def linears(model):\n"
        '    """The first and the last nn.Linear layer of the model."""\n'
        "    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]\n"
        "    return layers[0], layers[-1]\n"
        "\n"
        "\n"
        f'def load_init(model, path="{INIT}"):\n'
        "    d = np.load(path)\n"
        "    first, last = linears(model)\n"
        "    with torch.no_grad():\n"
        '        first.weight.copy_(torch.from_numpy(d["W1"]))\n'
        '        first.bias.copy_(torch.from_numpy(d["b1"]))\n'
        '        last.weight.copy_(torch.from_numpy(d["W2"]))\n'
        '        last.bias.copy_(torch.from_numpy(d["b2"]))\n'
        "\n"
        "\n"
        f'def save_weights(model, path="{WEIGHTS}"):\n'
        "    first, last = linears(model)\n"
        "    np.savez(path, W1=first.weight.detach().numpy(), b1=first.bias.detach().numpy(),\n"
        "             W2=last.weight.detach().numpy(), b2=last.bias.detach().numpy())\n"
        "\n"
        "\n"
        "def make_loss():\n"
        "    return nn.CrossEntropyLoss()\n"
        "\n"
        "\n"
        f"{acc_src}"
        "\n"
        "\n"
        f"def train(model, {crit}, X, y, seed, epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE):\n"
        f"    {opt} = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    rng = np.random.default_rng(seed)\n"
        "    n = len(X)\n"
        f"{pre_loop}"
        "    for epoch in range(epochs):\n"
        "        perm = torch.from_numpy(rng.permutation(n))\n"
        "        total = 0.0\n"
        "        for start in range(0, n, batch_size):\n"
        "            idx = perm[start:start + batch_size]\n"
        f"{step_src}"
        "            total += loss.item() * len(idx)\n"
        "        if (epoch + 1) % 5 == 0:\n"
        "            print(f\"epoch {epoch + 1:2d}  loss {total / n:.4f}  \"\n"
        "                  f\"train acc {accuracy(model, X, y):.3f}\")\n"
        "    return model\n"
        "\n"
        "\n"
        "def main():\n"
        f'    with open("{CONFIG}") as f:\n'
        '        seed = json.load(f)["seed"]\n'
        "    X_train, y_train, X_test, y_test = load_data()\n"
        "    model = build_model()\n"
        "    load_init(model)\n"
        f"    {crit} = make_loss()\n"
        f"    train(model, {crit}, X_train, y_train, seed)\n"
        "    print(f\"test accuracy: {accuracy(model, X_test, y_test):.3f}\")\n"
        "    save_weights(model)\n"
        "\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    main()\n"
    )


def make_workspace(ws: Path, instance_seed: int) -> None:
    ws = Path(ws)
    (ws / SCRIPT_NAME).write_text(make_script(instance_seed))
    write_files(ws, instance(instance_seed, "workspace").files())


TASK = Task(
    prompt=PROMPT,
    tools=["list_files", "read_file", "write_file", "run_python", "bash", "submit_answer"],
    files=make_workspace,
    max_steps=30,
    time_limit=1200,
    limits=Limits(wall_s=180, cpu_s=360),
)
