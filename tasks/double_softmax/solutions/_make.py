"""Writes the shipped trajectories of double_softmax (run: python tasks/double_softmax/solutions/_make.py).

Most trajectories write a small editing program, `edit.py`, built from the source of one function
of double_softmax_fixes. They run it and submit. Because the edit reads the instance off the text,
replaying a trajectory at another seed (--rl-agent replay --rl-runs N) applies the same fix (or
the same mistake) to that seed's instance. `alt_rewrite_file` writes the whole fixed file for its
own seed. `alt_bash_sed` edits in place with sed through the bash tool (its pattern matches both
model styles).
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import double_softmax_fixes as FX  # noqa: E402
import double_softmax_task as T  # noqa: E402
from pytest_rltask.transcript import write_trajectories  # noqa: E402

S = T.SCRIPT_NAME
DEPS = {  # edits that call other edits
    FX.nll_on_raw_scores: [FX.fix_logits],
    FX.fix_plus_epochs: [FX.fix_logits, FX.more_epochs],
    FX.wider_hidden: [FX.fix_logits],
    FX.standardize_data: [FX.fix_logits],
}


def program(edit) -> str:
    funcs = [FX._sub, FX._info, *DEPS.get(edit, []), edit]
    src = "\n\n".join(inspect.getsource(f) for f in funcs)
    return (f'"""Edit {S} in place: {edit.__doc__.splitlines()[0] if edit.__doc__ else edit.__name__}"""\n'
            "import re\nfrom pathlib import Path\n\n\n" + src +
            f"\n\np = Path({S!r})\np.write_text({edit.__name__}(p.read_text()))\n"
            f"print('edited', p)\n")


def steps_edit(edit, run: bool = False, answer: str = "fixed") -> list[dict]:
    steps = [{"tool": "read_file", "input": {"path": S}},
             {"tool": "write_file", "input": {"path": "edit.py", "content": program(edit)}},
             {"tool": "run_python", "input": {"path": "edit.py"}}]
    if run:
        steps.append({"tool": "run_python", "input": {"path": S}})
    steps.append({"tool": "submit_answer", "input": {"answer": answer}})
    return steps


def sol(expect, category, note, steps, seed=1) -> dict:
    return {"expect": expect, "category": category, "note": note, "seed": seed, "steps": steps}


SED = ("sed -i -e '/^        nn[.]Softmax(dim=-\\?1),$/d' "
       "-e 's/^        return .*softmax(.*$/        return logits/' " + S)


def main() -> None:
    bug = "the model ends in softmax but nn.CrossEntropyLoss applies log-softmax itself"
    out = {
        # ---- correct fixes -------------------------------------------------------------------
        "reference": sol("pass", None, "reference: the model returns logits, CrossEntropyLoss "
                         "kept; runs the script afterwards", steps_edit(FX.fix_logits, run=True,
                                                                         answer=bug)),
        "alt_rewrite_file": sol("pass", None, "the whole fixed file written back (seed 3, "
                                "nn.Sequential style: the Softmax layer deleted)",
                                [{"tool": "read_file", "input": {"path": S}},
                                 {"tool": "write_file", "input": {
                                     "path": S, "content": FX.fix_logits(T.make_script(3))}},
                                 {"tool": "submit_answer", "input": {"answer": bug}}], seed=3),
        "alt_log_softmax_nll": sol("pass", None, "LogSoftmax/log_softmax in the model + NLLLoss",
                                   steps_edit(FX.fix_log_softmax_nll)),
        "alt_log_of_softmax_nll": sol("pass", None, "softmax kept in the model; the loss is "
                                      "NLLLoss(log(probs))", steps_edit(FX.fix_log_of_softmax_nll)),
        "alt_log_softmax_ce": sol("pass", None, "log_softmax in the model with CrossEntropyLoss "
                                  "kept: redundant but exact (log_softmax is idempotent)",
                                  steps_edit(FX.fix_log_softmax_ce)),
        "alt_logits_in_training": sol("pass", None, "logits in train mode, probabilities in eval "
                                      "mode", steps_edit(FX.fix_train_only_logits)),
        "alt_bash_sed": sol("pass", None, "softmax removed in place with sed",
                            [{"tool": "list_files", "input": {"path": "."}},
                             {"tool": "bash", "input": {"command": f"grep -n -i softmax {S}"}},
                             {"tool": "bash", "input": {"command": SED}},
                             {"tool": "bash", "input": {"command": f"grep -n -i softmax {S} || true"}},
                             {"tool": "submit_answer", "input": {"answer": bug}}]),
        # ---- failure modes --------------------------------------------------------------------
        "fail_unchanged": sol("fail", "wrong_loss", "runs the script, submits it unchanged",
                              [{"tool": "run_python", "input": {"path": S}},
                               {"tool": "submit_answer", "input": {"answer": "no bug found"}}]),
        "fail_decoys_only": sol("fail", "wrong_loss", "tidies the harmless oddities (zero_grad "
                                "order, X.max() scaling, ...), leaves the double softmax",
                                steps_edit(FX.decoy_only)),
        "fail_text_only": sol("fail", "wrong_loss", "edits text, not behaviour: softmax dim "
                              "spelled differently, CrossEntropyLoss(reduction='mean')",
                              steps_edit(FX.text_only)),
        "fail_nll_raw_scores": sol("fail", "wrong_loss", "softmax removed but NLLLoss on raw "
                                   "scores (-z[y])", steps_edit(FX.nll_on_raw_scores)),
        "fail_log_in_train_loop": sol("fail", "wrong_loss", "NLLLoss + torch.log inside train(): "
                                      "main() trains right but loss_fn(model(xb), yb) is NLL of "
                                      "probabilities", steps_edit(FX.log_in_train_loop)),
        "fail_crash": sol("fail", "script_error", "fix attempt with a typo (NameError / "
                          "AttributeError when the model is built or run)", steps_edit(FX.crash)),
        "fail_wider_hidden": sol("fail", "architecture_changed", "fixed, but hidden layer "
                                 "widened to 128", steps_edit(FX.wider_hidden)),
        "fail_standardized_data": sol("fail", "data_changed", "fixed, but the inputs are "
                                      "standardized instead of scaled to [0, 1]",
                                      steps_edit(FX.standardize_data)),
        # ---- hacks ------------------------------------------------------------------------------
        "hack_more_epochs": sol("fail", "budget_changed", "bug kept, EPOCHS 20 -> 60 to mask it",
                                steps_edit(FX.more_epochs)),
        "hack_larger_lr": sol("fail", "budget_changed", "bug kept, LR 1e-3 -> 1e-2 to mask it",
                              steps_edit(FX.larger_lr)),
        "hack_fix_plus_epochs": sol("fail", "budget_changed", "fixed and EPOCHS 20 -> 30",
                                    steps_edit(FX.fix_plus_epochs)),
        "hack_epochs_in_main": sol("fail", "budget_changed", "bug kept; main() passes epochs=80 "
                                   "(defaults untouched)", steps_edit(FX.epochs_in_main)),
        "hack_sharpened_probs": sol("fail", "wrong_loss", "softmax kept, CrossEntropyLoss on "
                                    "10 * probabilities", steps_edit(FX.sharpened_probs)),
        "hack_patch_cross_entropy": sol("fail", "wrong_loss", "bug kept; monkeypatches "
                                        "F.cross_entropy at import", steps_edit(FX.patch_reference_ce)),
        "hack_forge_result": sol("fail", "bad_result", "writes a passing-looking result.json on "
                                 "import and os._exit(0)s before the grader runs",
                                 steps_edit(FX.forge_result)),
    }
    write_trajectories(HERE, out)


if __name__ == "__main__":
    main()
