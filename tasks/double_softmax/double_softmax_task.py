"""Trusted helpers of the double_softmax task (pytest process only; nothing here runs agent code).

* ``make_script(seed)``: the buggy ``train_digits.py`` the agent is given. The model ends in a
  softmax and the loss is ``nn.CrossEntropyLoss`` (which applies log-softmax itself), so the
  network is trained on CE(softmax(logits)): a loss floored at log(1 + 9/e) ~ 1.46 whose gradient
  is squashed by the softmax Jacobian. It runs and learns, only worse and less reliably.
  Per seed: the split/shuffle seed, the model's style (nn.Sequential or a Module class), how the
  softmax is spelled, and two of five harmless decoys.
* ``grader_split(seed)``: the grader's own train/held-out split of the digits (held-out labels stay
  in the pytest process; the grading sandbox gets training indices only).
* ``expected_data_digest(seed)``: what the untouched ``load_data()`` returns, as digests.
* ``verdict(out, ctx)``: the pure part of the grader: grader JSON -> (category, message) or None.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
GRADER_SCRIPT = HERE / "grade_double_softmax.py"
SCRIPT_NAME = "train_digits.py"

EPOCHS = 20
LR = 1e-3
BATCH_SIZE = 64
TEST_SIZE = 0.25
ACC_THRESHOLD = 0.88       # held-out accuracy of the grader-trained network (a backstop)
AGREE_THRESHOLD = 0.98     # argmax(model(x)) vs argmax(logits) on the training features
LOSS_ATOL, LOSS_RTOL = 1e-4, 1e-4   # |loss - CE(logits)| <= atol + rtol * CE(logits), every step
GRAD_RTOL, GRAD_ATOL = 1e-3, 1e-6   # ||g - g_ce|| <= rtol * ||g_ce|| + atol, every step
CALL_LIMIT_S = 150   # wall seconds any one call into the agent's module may take in grading
N_PARAMS = 64 * 64 + 64 + 64 * 10 + 10   # 4810
ADAM_DEFAULTS = {"betas": [0.9, 0.999], "eps": 1e-08, "weight_decay": 0.0,
                 "amsgrad": False, "maximize": False}
CATEGORIES = ("bad_result", "script_error", "data_changed", "architecture_changed",
              "budget_changed", "wrong_loss", "low_accuracy")

PROMPT = f"""\
`{SCRIPT_NAME}` in your workspace trains a small PyTorch classifier (an MLP 64-64-10) on \
scikit-learn's handwritten digits (`load_digits`, shipped with scikit-learn) and prints the test \
accuracy. It runs without errors and the network does learn, but worse than it should: this \
network, with exactly the same data, optimizer and training budget, reaches about 0.94 test \
accuracy, while this script typically lands a few points lower and on some splits far lower \
(0.84 was reported). Find the bug and fix it in `{SCRIPT_NAME}`. Do not work around it by \
changing the data, the architecture, the hyperparameters or the training budget.

The grader does not read your code; it imports your `{SCRIPT_NAME}` (only that file is used) in a \
fresh sandbox and checks, by running it:
1. The module imports and still defines `load_data()`, `build_model()`, `make_loss()`, \
`train(model, loss_fn, X, y, epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)` and `main()`; the grader \
calls `load_data()`, `build_model()`, `make_loss()` and `main()` without arguments, and `main()` must \
run to the end without errors (keep it well under a minute: each call is stopped after \
{CALL_LIMIT_S} s).
2. Data unchanged: `load_data()` returns exactly the same four tensors as now.
3. Architecture unchanged: the parameters of `build_model()` are exactly those of two `nn.Linear` \
layers with bias, 64->64 then 64->10, with a ReLU between them; the predicted class is the argmax \
of `model(x)`, which must agree with the argmax of the last Linear layer's output.
4. Training budget unchanged: `main()` trains with `torch.optim.Adam` at its default settings and \
learning rate 1e-3, for {EPOCHS} epochs over the training set in mini-batches of {BATCH_SIZE} (the \
last mini-batch of an epoch holds the remainder), with exactly one optimizer step per mini-batch \
and no other optimizer steps. The grader counts the optimizer steps and reads the batch sizes and \
the optimizer's settings while `main()` runs.
5. Training objective: the grader builds `model = build_model()` (re-initialising its Linear \
layers with PyTorch's default initialisation under its own seed) and `loss_fn = make_loss()` and \
trains them with the loop of `train()` (Adam, lr 1e-3, {EPOCHS} epochs, mini-batches of \
{BATCH_SIZE}, `loss = loss_fn(model(xb), yb)`) on its own split of the digits. At every step, \
`loss` and its gradient must equal the standard multi-class cross-entropy of the network's logits, \
`torch.nn.functional.cross_entropy(logits, yb)` (mean over the batch), where `logits` is the output \
of the last Linear layer. So the fix belongs in `build_model()` and/or `make_loss()`, and `train()` \
must keep computing its loss as `loss_fn(model(xb), yb)`.
6. The network trained in step 5 reaches at least {ACC_THRESHOLD} accuracy on digits it was not \
trained on.

When you are done, call `submit_answer` with a one-line description of the bug (the text itself is \
not graded).
"""

# --------------------------------------------------------------------------------------------
# the buggy script
# --------------------------------------------------------------------------------------------
DECOYS = ("max_scale", "zero_grad_after_step", "eval_not_restored", "train_every_batch",
          "double_cast")


def instance_params(seed: int) -> dict[str, Any]:
    rng = random.Random(f"double_softmax/{seed}")
    style = rng.choice(["sequential", "class"])
    if style == "sequential":
        softmax = rng.choice(["nn.Softmax(dim=1)", "nn.Softmax(dim=-1)"])
    else:
        softmax = rng.choice(["torch.softmax(logits, dim=1)", "logits.softmax(dim=-1)",
                              "F.softmax(logits, dim=1)"])
    return {
        "split_seed": rng.randrange(1, 10_000),
        "style": style,
        "softmax": softmax,
        "decoys": sorted(rng.sample(DECOYS, 2)),
        "opt_name": rng.choice(["optimizer", "opt"]),
        "loss_name": rng.choice(["loss_fn", "criterion"]),
    }


def make_script(seed: int) -> str:
    p = instance_params(seed)
    d = set(p["decoys"])
    opt, crit = p["opt_name"], p["loss_name"]
    uses_f = "F." in p["softmax"]

    imports = "import torch\nimport torch.nn as nn\n"
    if uses_f:
        imports += "import torch.nn.functional as F\n"

    scale = ("    X = X / X.max()  # pixel intensities -> [0, 1]\n" if "max_scale" in d
             else "    X = X / 16.0  # pixel intensities are 0..16\n")
    if "double_cast" in d:
        tensors = ("    X_train = torch.tensor(X_train, dtype=torch.float32)\n"
                   "    X_test = torch.tensor(X_test, dtype=torch.float32)\n"
                   "    y_train = torch.tensor(y_train).long()\n"
                   "    y_test = torch.tensor(y_test).long()\n"
                   "    return X_train.float(), y_train.long(), X_test.float(), y_test.long()\n")
    else:
        tensors = ("    return (\n"
                   "        torch.tensor(X_train, dtype=torch.float32),\n"
                   "        torch.tensor(y_train, dtype=torch.long),\n"
                   "        torch.tensor(X_test, dtype=torch.float32),\n"
                   "        torch.tensor(y_test, dtype=torch.long),\n"
                   "    )\n")

    if p["style"] == "sequential":
        model_src = (
            "def build_model():\n"
            "    return nn.Sequential(\n"
            "        nn.Linear(64, 64),\n"
            "        nn.ReLU(),\n"
            "        nn.Linear(64, 10),\n"
            f"        {p['softmax']},\n"
            "    )\n"
        )
    else:
        model_src = (
            "class DigitNet(nn.Module):\n"
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
            "    return DigitNet()\n"
        )

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

    step_lines = []
    if "train_every_batch" in d:
        step_lines.append("            model.train()")
    if "zero_grad_after_step" in d:
        step_lines += [f"            loss = {crit}(model(X[idx]), y[idx])",
                       "            loss.backward()",
                       f"            {opt}.step()",
                       f"            {opt}.zero_grad()"]
    else:
        step_lines += [f"            {opt}.zero_grad()",
                       f"            loss = {crit}(model(X[idx]), y[idx])",
                       "            loss.backward()",
                       f"            {opt}.step()"]
    step_src = "\n".join(step_lines) + "\n"
    pre_loop = "" if "train_every_batch" in d else "    model.train()\n"

    return (
        '"""Train a small MLP on scikit-learn\'s handwritten digits and report test accuracy."""\n'
        f"{imports}"
        "from sklearn.datasets import load_digits\n"
        "from sklearn.model_selection import train_test_split\n"
        "\n"
        "torch.set_num_threads(1)\n"
        "\n"
        f"SEED = {p['split_seed']}\n"
        f"EPOCHS = {EPOCHS}\n"
        "LR = 1e-3\n"
        f"BATCH_SIZE = {BATCH_SIZE}\n"
        "\n"
        "\n"
        "def load_data():\n"
        '    """(X_train, y_train, X_test, y_test) as tensors."""\n'
        "    X, y = load_digits(return_X_y=True)\n"
        f"{scale}"
        "    X_train, X_test, y_train, y_test = train_test_split(\n"
        f"        X, y, test_size={TEST_SIZE}, random_state=SEED\n"
        "    )\n"
        f"{tensors}"
        "\n"
        "\n"
        f"{model_src}"
        "\n"
        "\n"
        "def make_loss():\n"
        "    return nn.CrossEntropyLoss()\n"
        "\n"
        "\n"
        f"{acc_src}"
        "\n"
        "\n"
        f"def train(model, {crit}, X, y, epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE):\n"
        f"    {opt} = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    gen = torch.Generator().manual_seed(SEED)\n"
        "    n = len(X)\n"
        f"{pre_loop}"
        "    for epoch in range(epochs):\n"
        "        perm = torch.randperm(n, generator=gen)\n"
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
        "    torch.manual_seed(SEED)\n"
        "    X_train, y_train, X_test, y_test = load_data()\n"
        "    model = build_model()\n"
        f"    {crit} = make_loss()\n"
        f"    train(model, {crit}, X_train, y_train)\n"
        "    print(f\"test accuracy: {accuracy(model, X_test, y_test):.3f}\")\n"
        "\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    main()\n"
    )


def make_workspace(ws: Path, seed: int) -> None:
    (Path(ws) / SCRIPT_NAME).write_text(make_script(seed))


# --------------------------------------------------------------------------------------------
# data the grader needs (computed here, in the pytest process)
# --------------------------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X, y


def _digest(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr)
    h = hashlib.sha256(arr.tobytes()).hexdigest()
    return f"{arr.dtype.name}|{list(arr.shape)}|{h}"


def expected_data_digest(seed: int) -> list[str]:
    """Digests of what the untouched load_data() returns for this instance."""
    from sklearn.model_selection import train_test_split
    X, y = _digits()
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=TEST_SIZE,
                                          random_state=instance_params(seed)["split_seed"])
    return [_digest(Xtr.astype(np.float32)), _digest(ytr.astype(np.int64)),
            _digest(Xte.astype(np.float32)), _digest(yte.astype(np.int64))]


def workspace_n_train(seed: int) -> int:
    n = len(_digits()[1])
    return n - math.ceil(TEST_SIZE * n)


def grader_split(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices) into load_digits(); differs from the workspace's split."""
    n = len(_digits()[1])
    perm = np.random.default_rng(np.random.SeedSequence([0xD5, seed])).permutation(n)
    n_hold = math.ceil(TEST_SIZE * n)
    return np.sort(perm[n_hold:]), np.sort(perm[:n_hold])


def grader_seed(seed: int) -> int:
    return 7919 * seed + 17


def heldout(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out features (scaled as in the script) and labels: never sent to a sandbox."""
    X, y = _digits()
    _, hold = grader_split(seed)
    return (X[hold] / 16.0).astype(np.float32), y[hold].astype(np.int64)


def grader_input(seed: int, nonce: str) -> dict[str, Any]:
    train_idx, _ = grader_split(seed)
    return {"nonce": nonce, "train_idx": [int(i) for i in train_idx], "seed": grader_seed(seed),
            "epochs": EPOCHS, "lr": LR, "batch_size": BATCH_SIZE, "time_limit_s": CALL_LIMIT_S,
            "tol": {"loss_atol": LOSS_ATOL, "loss_rtol": LOSS_RTOL,
                    "grad_rtol": GRAD_RTOL, "grad_atol": GRAD_ATOL}}


def expected_batches(n: int) -> dict[int, int]:
    """batch size -> number of optimizer steps, over the whole run."""
    c: Counter[int] = Counter()
    for start in range(0, n, BATCH_SIZE):
        c[min(BATCH_SIZE, n - start)] += EPOCHS
    return dict(c)


# --------------------------------------------------------------------------------------------
# verdict: pure, property-tested
# --------------------------------------------------------------------------------------------
class Verdict(Exception):
    def __init__(self, cat: str, msg: str) -> None:
        super().__init__(msg)
        self.category, self.message = cat, msg


def _need(cond: bool, cat: str, msg: str) -> None:
    if not cond:
        raise Verdict(cat, msg)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_budget(obs: Any, where: str, n_train: int) -> None:
    _need(isinstance(obs, dict), "bad_result", f"{where}: observation missing")
    records = obs.get("records")
    _need(isinstance(records, list), "bad_result", f"{where}: records missing")
    batches: Counter[int] = Counter()
    total = 0
    for item in records:
        _need(isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict)
              and _is_int(item[1]) and item[1] > 0, "bad_result", f"{where}: malformed record")
        rec, count = item
        total += count
        opt = rec.get("opt")
        _need(opt == "torch.optim.adam.Adam", "budget_changed",
              f"{where}: an optimizer step was taken by {opt!r}, expected torch.optim.Adam")
        lr = rec.get("lr")
        _need(_is_num(lr) and math.isclose(lr, LR, rel_tol=1e-9), "budget_changed",
              f"{where}: learning rate {lr!r} at some step, expected {LR}")
        for k, v in ADAM_DEFAULTS.items():
            got = rec.get(k)
            ok = (got == v and type(got) is type(v)) if isinstance(v, bool) else (
                isinstance(got, list) and len(got) == len(v) and all(_is_num(a) for a in got)
                and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, v))
                if isinstance(v, list) else _is_num(got) and math.isclose(got, v, rel_tol=1e-9,
                                                                          abs_tol=0.0))
            _need(ok, "budget_changed", f"{where}: Adam {k}={got!r}, expected the default {v!r}")
        _need(rec.get("n_params") == N_PARAMS, "budget_changed",
              f"{where}: the optimizer updates {rec.get('n_params')!r} parameters, "
              f"expected the model's {N_PARAMS}")
        bs = rec.get("bs")
        _need(_is_int(bs), "budget_changed",
              f"{where}: an optimizer step without a preceding mini-batch forward pass")
        batches[bs] += count
    exp = expected_batches(n_train)
    exp_steps = sum(exp.values())
    _need(total == exp_steps, "budget_changed",
          f"{where}: {total} optimizer steps, expected {exp_steps} "
          f"({EPOCHS} epochs x {math.ceil(n_train / BATCH_SIZE)} mini-batches)")
    _need(dict(batches) == exp, "budget_changed",
          f"{where}: mini-batch sizes {dict(sorted(batches.items()))}, expected {exp}")


def verdict(out: Any, ctx: dict[str, Any]) -> tuple[str, str] | None:
    """None if the grader JSON shows a correct fix, else (category, message).

    ctx: nonce, data_digest (list of 4 str), n_main (workspace train size), n_grader,
    X_hold (float32 [n, 64]), y_hold (int [n]).
    """
    try:
        _verdict(out, ctx)
    except Verdict as v:
        return v.category, v.message
    return None


def _verdict(out: Any, ctx: dict[str, Any]) -> None:
    _need(isinstance(out, dict), "bad_result", "grader result is not a JSON object")
    _need(out.get("nonce") == ctx["nonce"] and isinstance(out.get("nonce"), str), "bad_result",
          "grader result does not carry this grading run's nonce")
    errors = out.get("errors")
    _need(isinstance(errors, dict), "bad_result", "grader result has no error table")
    for stage in ("import", "load_data", "main", "train", "build"):
        err = errors.get(stage)
        _need(err is None, "script_error", f"{stage}: {str(err)[:500]}")
    _need(not errors.get("grader"), "bad_result", f"grader: {str(errors.get('grader'))[:300]}")

    digest = out.get("data_digest")
    _need(isinstance(digest, list) and all(isinstance(s, str) for s in digest), "data_changed",
          "load_data() did not return four tensors")
    _need(digest == ctx["data_digest"], "data_changed",
          "load_data() returns different tensors than the original script")

    arch = out.get("arch")
    _need(isinstance(arch, dict), "bad_result", "architecture report missing")
    _need(arch.get("linears") == [[64, 64, True], [64, 10, True]], "architecture_changed",
          f"Linear layers (in, out, bias) = {arch.get('linears')!r}, expected 64->64 and 64->10")
    _need(arch.get("n_params") == N_PARAMS and arch.get("only_linear_params") is True,
          "architecture_changed",
          f"model has {arch.get('n_params')!r} parameters (only Linear ones: "
          f"{arch.get('only_linear_params')!r}), expected exactly the Linear layers' {N_PARAMS}")

    _check_budget(out.get("main_obs"), "main()", ctx["n_main"])

    gt = out.get("grader_train")
    _need(isinstance(gt, dict), "bad_result", "grader training report missing")
    if gt.get("loss_error") is not None:
        raise Verdict("wrong_loss", f"loss_fn(model(xb), yb) failed: {str(gt['loss_error'])[:400]}")
    worst_loss, worst_grad = gt.get("worst_loss"), gt.get("worst_grad")
    _need(_is_num(worst_loss) and _is_num(worst_grad), "wrong_loss",
          f"the loss or its gradient was not finite (or not reported) at step {gt.get('steps')!r}")
    exp_steps = sum(expected_batches(ctx["n_grader"]).values())
    _need(gt.get("steps") == exp_steps, "bad_result",
          f"grader loop ran {gt.get('steps')!r} steps, expected {exp_steps}")
    _need(worst_loss <= 1.0, "wrong_loss",
          f"the training loss differs from cross-entropy of the logits "
          f"(at step {gt.get('first_bad_loss')!r}: {gt.get('example_loss')!r})")
    _need(worst_grad <= 1.0, "wrong_loss",
          f"the gradient of the training loss differs from that of cross-entropy of the logits "
          f"(at step {gt.get('first_bad_grad')!r}: {gt.get('example_grad')!r})")

    agree = gt.get("agree")
    _need(_is_num(agree), "architecture_changed", "model(x) did not give [N, 10] finite scores")
    _need(agree >= AGREE_THRESHOLD, "architecture_changed",
          f"argmax of model(x) agrees with argmax of the logits on only {agree:.3f} of rows")

    w = out.get("weights")
    _need(isinstance(w, dict), "bad_result", "trained weights missing")
    shapes = {"W1": (64, 64), "b1": (64,), "W2": (10, 64), "b2": (10,)}
    arrs = {}
    for k, shape in shapes.items():
        try:
            a = np.asarray(w.get(k), dtype=np.float64)
        except (TypeError, ValueError):
            raise Verdict("bad_result", f"weights {k} are not numbers") from None
        _need(a.shape == shape, "bad_result", f"weights {k} have shape {a.shape}, expected {shape}")
        _need(bool(np.isfinite(a).all()), "low_accuracy", f"weights {k} are not finite")
        arrs[k] = a
    X, y = np.asarray(ctx["X_hold"], dtype=np.float64), np.asarray(ctx["y_hold"])
    h = np.maximum(X @ arrs["W1"].T + arrs["b1"], 0.0)
    pred = (h @ arrs["W2"].T + arrs["b2"]).argmax(axis=1)
    acc = float((pred == y).mean()) if len(y) else 0.0
    _need(acc >= ACC_THRESHOLD, "low_accuracy",
          f"held-out accuracy {acc:.3f} < {ACC_THRESHOLD} after the grader's training")


def heldout_accuracy(out: Any, ctx: dict[str, Any]) -> float | None:
    """The held-out accuracy of the grader-trained weights (for calibration), or None."""
    try:
        w = out["weights"]
        W1, b1, W2, b2 = (np.asarray(w[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2"))
        X, y = np.asarray(ctx["X_hold"], dtype=np.float64), np.asarray(ctx["y_hold"])
        pred = (np.maximum(X @ W1.T + b1, 0) @ W2.T + b2).argmax(axis=1)
        return float((pred == y).mean())
    except Exception:
        return None


def context(seed: int, nonce: str) -> dict[str, Any]:
    X_hold, y_hold = heldout(seed)
    return {"nonce": nonce, "data_digest": expected_data_digest(seed),
            "n_main": workspace_n_train(seed), "n_grader": len(grader_split(seed)[0]),
            "X_hold": X_hold, "y_hold": y_hold}
