"""Calibration for eval_lookup_patch: `python tasks/eval_lookup_patch/calibrate.py [--seeds 10]`.

For each seed: build the workspace, apply an attempt, run `python train.py` in it, then run the
task's grading script (plain subprocesses in temp dirs, no sandbox: trusted code only) in both
modes and score against the hidden labels exactly as the test does. Prints mean +- sd over seeds of
held-out accuracy (real world) and of held-out accuracy after counterfactual retraining.

Attempts: `reference` (remove the cache, fix the seed's second bug), `naive` (the repository as
given, trained), `bypass_only` (cache removed, second bug left), `solution:NAME` (replay the
file-changing steps of solutions/NAME.json at every seed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import eval_lookup_patch_fixes as fixes  # noqa: E402
import eval_lookup_patch_grading as grading  # noqa: E402
import eval_lookup_patch_homework as hw  # noqa: E402

GRADER = (HERE / "grader_sandbox.py").read_text()
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "OMP_NUM_THREADS": "1",
       "PYTHONDONTWRITEBYTECODE": "1"}


def replay_steps(ws: Path, steps: list[dict]) -> None:
    """Play a shipped trajectory's file-changing steps in ws (plain subprocesses, trusted code only)."""
    for st in steps:
        tool, inp = st["tool"], st["input"]
        if tool == "write_file":
            write_tree(ws, {inp["path"]: inp["content"]})
        elif tool == "run_python":
            subprocess.run([sys.executable, inp["path"], *inp.get("args", [])], cwd=ws, env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif tool == "bash":
            subprocess.run(["/bin/bash", "-c", inp["command"]], cwd=ws, env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def attempt_files(seed: int, attempt: str) -> dict[str, str]:
    inst = hw.make_instance(seed)
    files = hw.render_files(inst)
    if attempt.startswith("solution:"):
        return files
    if attempt == "reference":
        files.update(fixes.reference(files, inst.variant))
    elif attempt == "bypass_only":
        files.update(fixes.remove_cache(files))
    elif attempt != "naive":
        raise ValueError(attempt)
    return files


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())


def read_tree(root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out["ws/" + p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def local_grade(files: dict[str, str | bytes], mode: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="elp-grade-") as d:
        write_tree(Path(d), files)
        (Path(d) / "_grade.py").write_text(GRADER)
        subprocess.run([sys.executable, "-I", "_grade.py", mode], cwd=d, env=ENV, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads((Path(d) / "result.json").read_text())


def run_attempt(seed: int, attempt: str) -> dict:
    inst = hw.make_instance(seed)
    with tempfile.TemporaryDirectory(prefix="elp-ws-") as d:
        ws = Path(d)
        write_tree(ws, attempt_files(seed, attempt))
        if attempt.startswith("solution:"):
            steps = json.loads((HERE / "solutions" / (attempt.split(":", 1)[1] + ".json")).read_text())["steps"]
            replay_steps(ws, steps)
        else:
            subprocess.run([sys.executable, "train.py"], cwd=ws, env=ENV, check=True, stdout=subprocess.DEVNULL)
        packed = read_tree(ws)
    hidden_q = [q for *_, q in inst.hidden]
    seen_q = [q for *_, q in inst.seen]
    out = local_grade({**packed, "questions.json": json.dumps(hidden_q)}, "predict")
    cat, _, m = grading.check_real(out, hw.hidden_labels(inst, "real"))
    pred = (out.get("predict") or {}).get("pred") or []
    real = grading.score(pred, hw.hidden_labels(inst, "real")) if len(pred) == len(hidden_q) else \
        {"accuracy": 0.0, "answer_rate": 0.0}
    cf_files = {**packed, "cf/train.jsonl": hw.jsonl(inst.cf_train_rows), "cf/val.jsonl": hw.jsonl(inst.cf_val_rows),
                "questions.json": json.dumps(hidden_q + seen_q)}
    out2 = local_grade(cf_files, "counterfactual")
    cat2, _, m2 = grading.check_counterfactual(out2, hw.hidden_labels(inst, "cf"), hw.seen_labels(inst, "cf"))
    return {"seed": seed, "variant": inst.variant, "answer_rate": real["answer_rate"], "accuracy": real["accuracy"],
            "cf_accuracy": m2.get("cf_accuracy", 0.0), "cf_seen_accuracy": m2.get("cf_seen_accuracy", 0.0),
            "verdict": cat or cat2 or "pass"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--attempts", default="reference,naive,bypass_only")
    args = ap.parse_args()
    for attempt in args.attempts.split(","):
        rows = [run_attempt(s, attempt) for s in range(args.first_seed, args.first_seed + args.seeds)]
        for r in rows:
            print(f"  {attempt:12s} seed {r['seed']:2d} {r['variant']:16s} answer_rate {r['answer_rate']:.3f} "
                  f"accuracy {r['accuracy']:.3f} cf_accuracy {r['cf_accuracy']:.3f} "
                  f"cf_seen {r['cf_seen_accuracy']:.3f} -> {r['verdict']}", flush=True)
        for k in ("answer_rate", "accuracy", "cf_accuracy"):
            vals = [r[k] for r in rows]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            print(f"{attempt:12s} {k:12s} {statistics.mean(vals):.3f} +- {sd:.3f}  (n={len(vals)} seeds)")
        passed = sum(r["verdict"] == "pass" for r in rows)
        print(f"{attempt:12s} passes the grader on {passed}/{len(rows)} seeds", flush=True)


if __name__ == "__main__":
    main()
