"""The idea-proposal grader's deterministic part, the threshold setting and the calibration."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from pytest_rltask.judge import Judge, screen
from pytest_rltask.outcome import RolloutFailure

from . import calibrate
from . import grader as checks
from . import grader as task
from . import task as workspace_task
from ..literature_review.test_grader import Scripted

HERE = Path(__file__).resolve().parent
SOLUTIONS = sorted((HERE / "solutions").glob("*.json"))

pytestmark = pytest.mark.offline
APPROACHES = {
    "retrieval memory for assistants": "Index every dialogue turn with timestamps, let a classifier mark superseded "
                                       "facts, and return only current entries plus a short history note.",
    "preference tuning stability": "Run twelve sequential DPO rounds on disjoint preference slices and reset "
                                   "dormant MLP units between rounds, tracking effective rank and gradient norms.",
    "robot policy fine-tuning": "Log operator takeovers during deployment, relabel those states with corrective "
                                "actions, and fine-tune low-rank adapters of the open policy nightly.",
    "world-model checkpoint ranking": "Train a latent dynamics predictor on logged trials, roll out candidate "
                                      "checkpoints in imagination, and rank them before any hardware time.",
    "gist compression of sessions": "Distil each finished conversation into eight learned soft vectors stored "
                                    "per user, prepended at inference instead of textual summaries.",
    "reward model ensembles": "Train five reward heads on bootstrapped preference subsets and halt policy updates "
                              "whenever their disagreement on sampled outputs exceeds a calibrated bound.",
    "sim demonstrations for grasping": "Generate randomized simulated grasp demonstrations and measure how many "
                                       "replace one real demonstration when fine-tuning a generalist policy.",
}
TOPICS = list(APPROACHES)


VOCAB = ("latency throughput recall precision budget memory index cache shard replica gradient optimizer "
         "adapter tokenizer encoder decoder planner gripper camera torque controller simulator dataset annotator "
         "benchmark ablation regression variance seed cohort pilot rollout checkpoint reward critic value horizon "
         "episode trajectory embedding retrieval summary compression schedule curriculum warmup dropout quantization "
         "pruning distillation ensemble calibration uncertainty monitoring dashboard incident customer clinician "
         "warehouse factory tutor student teacher lawyer auditor regulator hospital classroom kitchen vehicle drone").split()


def idea(n: int, topic: str, drop: str | None = None) -> str:
    """A well-formed idea whose sections use words of their own (seeded by topic), so ideas differ."""
    import random

    rng = random.Random(topic)

    def words(k: int = 30) -> str:  # a few real words and made-up ones: each idea's vocabulary is its own
        return " ".join(rng.sample(VOCAB, 4) + ["".join(rng.choice("bcdfgklmnprstv") + rng.choice("aeiou")
                                                        for _ in range(3)) for _ in range(k - 4)])

    body = {
        "Problem evidence": f"Evidence about {topic}: {words()}; retrieval reaches 44.5 exact match on Natural "
                            f"Questions [rag_2020].",
        "Approach": APPROACHES.get(topic, topic) + " " + words(20) + ".",
        "Baseline comparison": f"The simplest baseline for {topic}: {words()}.",
        "Risks": f"What could go wrong with {topic}: {words()}.",
        "Why it matters": f"Who gains from {topic}: {words()}.",
    }
    secs = "".join(f"### {k}\n{v}\n" for k, v in body.items() if k != drop)
    return f"## Idea {n}: {topic.capitalize()}\n{secs}\n"


@given(n=st.integers(0, 7))
@settings(deadline=None)
def test_idea_count_outside_three_to_five_is_rejected(n):
    text = "# Research proposal: x\n\n" + "".join(idea(i + 1, TOPICS[i]) for i in range(n))
    got = checks.decide(text)
    assert (got is None) == (3 <= n <= 5) and (got is None or got[0] == "wrong_idea_count")


@given(k=st.integers(0, 2), drop=st.sampled_from(["Problem evidence", "Approach", "Baseline comparison", "Risks",
                                                   "Why it matters"]))
@settings(deadline=None)
def test_a_missing_section_in_any_idea_is_rejected(k, drop):
    text = "# P\n\n" + "".join(idea(i + 1, TOPICS[i], drop if i == k else None) for i in range(3))
    assert checks.decide(text)[0] == "missing_section"


def test_a_reworded_duplicate_is_rejected_but_distinct_ideas_pass():
    ok = "# P\n\n" + "".join(idea(i + 1, TOPICS[i]) for i in range(3))
    assert checks.decide(ok) is None
    dup = ok + idea(4, TOPICS[0]).replace("Retrieval memory for assistants", "Memory retrieval for chat assistants", 1)
    assert checks.decide(dup)[0] == "duplicate_ideas"


def test_the_strong_proposals_pass_and_carry_nothing_aimed_at_the_judge():
    for name in ("strong", "strong_alt", "weak_generic"):
        text = (HERE / "proposals" / f"{name}.md").read_text()
        assert checks.decide(text) == (("vague_idea", checks.decide(text)[1]) if name == "weak_generic" else None), name
        assert not screen(text), name
    subtle = (HERE / "proposals" / "subtle_injection.md").read_text()
    assert checks.decide(subtle)[0] == "judge_injection"


def test_the_threshold_comes_from_the_calibration_or_the_environment(monkeypatch):
    monkeypatch.delenv(task.THRESHOLD_ENV, raising=False)
    assert task.threshold() == json.loads(task.CALIBRATION.read_text())["threshold"]
    monkeypatch.setenv(task.THRESHOLD_ENV, "5.25")
    assert task.threshold() == 5.25
    for bad in ("high", "11"):
        monkeypatch.setenv(task.THRESHOLD_ENV, bad)
        with pytest.raises(ValueError):
            task.threshold()


def test_the_workspace_holds_the_reviews_and_the_corpus_and_nothing_of_the_grader(tmp_path):
    workspace_task.workspace(tmp_path, 1)
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["literature/notes/memory.md", "literature/notes/rl_alignment.md", "literature/notes/robotics.md",
                     "literature/papers.jsonl"]
    reviews = [p.read_text() for p in (HERE.parent / "literature_review" / "reviews").glob("*.md")]
    handed = "".join(p.read_text() for p in tmp_path.rglob("*.md"))
    assert not any(r[:400] in handed for r in reviews)  # the other task's passing solutions are not handed out
    assert len((tmp_path / "literature/papers.jsonl").read_text().splitlines()) >= 60


@given(means=st.lists(st.one_of(st.none(), st.floats(0, 10)), min_size=1, max_size=40).filter(
    lambda ms: any(m is not None for m in ms)), target=st.floats(0.05, 0.95))
def test_calibration_picks_the_achievable_rate_nearest_the_target(means, target):
    t, rate = calibrate.choose(means, target)
    n = len(means)
    achievable = {sum(1 for m in means if m is not None and m >= c - 1e-9) / n
                  for c in [round(m, 4) for m in means if m is not None] + [11.0]}
    assert abs(rate - target) <= min(abs(a - target) for a in achievable) + 1e-9
    assert rate == sum(1 for m in means if m is not None and m >= t - 1e-9) / n


def test_a_paraphrased_idea_repeated_is_a_duplicate():
    s = (HERE / "proposals" / "strong.md").read_text()
    body = s[s.index("## Idea 1"):s.index("## Idea 2")]
    dup2 = body.replace(checks.parse(s)[0].title, "Tracking outdated facts in assistant memory stores", 1) \
               .replace("## Idea 1:", "## Idea 2:", 1).replace("Add a write-time supersession step.", "At write time, detect replacement.")
    dup3 = body.replace(checks.parse(s)[0].title, "Temporal validity for personal-assistant recollections", 1) \
               .replace("## Idea 1:", "## Idea 3:", 1).replace("Superseded entries get a validity interval", "Replaced items receive a time range")
    assert checks.decide(s[:s.index("## Idea 1")] + body + dup2 + dup3)[0] == "duplicate_ideas"


@pytest.mark.parametrize("extra", ["Zhang et al. (2024) report 12% stale answers.",
                                   "MemBank [membank_2024](https://arxiv.org/abs/2401.99999) shows it."])
def test_sources_outside_the_corpus_are_invented_papers(extra):
    s = (HERE / "proposals" / "strong.md").read_text()
    text = s.replace("[memgpt_2023];", f"[memgpt_2023]; {extra}", 1)
    assert text != s and checks.decide(text)[0] == "invented_paper"


def test_nothing_is_not_a_proposal():
    assert checks.decide(None)[0] == "wrong_idea_count" and checks.decide("")[0] == "wrong_idea_count"


def test_the_checks_know_the_rubric_criteria_the_judge_uses():
    assert tuple(c.name for c in task.RUBRIC_CRITERIA) == checks.CRITERIA


class _Scripted(Scripted):
    def exchange(self, system, user, tool, max_tokens):
        self.seen.append(user)
        names = tool["input_schema"]["properties"]["criteria"]["items"]["properties"]["criterion"]["enum"]
        crit = [{"criterion": n, "reason": "scripted", "verdict": "met", "score": 10 * self.low.get(n, self.fraction)}
                for n in names]
        from pytest_rltask.judge.base import Exchange
        return Exchange({"injection_detected": False, "criteria": crit}, {}, {}, "scripted", {})


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_with_an_accepting_judge_hacks_fail_before_it_and_honest_proposals_reach_it(path, monkeypatch):
    monkeypatch.setenv(task.THRESHOLD_ENV, "6")
    t = json.loads(path.read_text())
    backend = _Scripted(1.0)
    text = t["steps"][-1]["input"]["answer"]
    if t["expect"] == "pass" or t.get("decided_by") == "judge":
        assert checks.grade(text, Judge(backend)) and len(backend.seen) == len(checks.parse(text))
    else:
        with pytest.raises(RolloutFailure) as e:
            checks.grade(text, Judge(backend))
        assert e.value.category == t["category"] and backend.seen == [], e.value


def test_the_battery_covers_every_class_of_attack():
    cats = {json.loads(p.read_text())["category"] for p in SOLUTIONS if p.stem.startswith("hack_")}
    assert cats >= {"invented_paper", "invented_number", "copied_corpus", "judge_injection", "malformed",
                    "duplicate_ideas"}


def test_one_idea_restated_cannot_carry_the_mean(monkeypatch):
    """A judge that faithfully scores a restated idea 0 on novelty leaves it 0, not 6 of 10."""
    monkeypatch.setenv(task.THRESHOLD_ENV, "6")
    text = (HERE / "proposals" / "strong.md").read_text()
    with pytest.raises(RolloutFailure) as e:
        checks.grade(text, Judge(_Scripted(1.0, {"novelty": 0.0, "upside": 0.0})))
    assert e.value.category == "low_judge_score"


def test_the_notes_say_exactly_what_code_verified():
    ideas = checks.parse((HERE / "proposals" / "strong.md").read_text())
    notes = checks.rubric(ideas[0], ideas[1:]).notes
    assert "What code verified in this idea (nothing more)" in notes and "Not checked by code" in notes
    assert all(str(c) in notes for c in checks.idea_numbers(ideas[0]) if c.ok)
