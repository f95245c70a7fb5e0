"""tasks/literature_review: a literature review written from a shipped paper corpus, graded by
deterministic checks first and an LLM judge second.

From an RL-task write-up where a Claude Haiku agent searched arXiv/Semantic Scholar and a Sonnet
judge scored its review on a 10-point rubric (pass at 7). Here the literature is a fixed corpus
(``corpus/*.json``, 60+ real papers), so every rollout searches the same papers. The seed picks
the topic: run 1 memory, run 2 RL and alignment, run 3 robotics, and so on.

The grader, in order: text aimed at the judge fails the run (``judge_injection``); every cited
paper must exist (``invented_paper``); it must be a review, not a list (``not_a_review``), and not
the corpus pasted (``copied_corpus``); every number attributed to a paper must be one that paper
reports (``invented_number``); every required approach must be covered by a cited paper
(``missing_approach``); at least five specific results must be given (``no_numbers``). Only then
does the judge score coverage (4), seminal works (3) and synthesis (3); the run passes at 7/10.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helpers live beside this module (works under any import mode)
    sys.path.insert(0, str(HERE))

from pytest_rltask import Task, fail  # noqa: E402
from pytest_rltask.judge import Criterion, Rubric  # noqa: E402

import literature_review_checks as checks  # noqa: E402
import literature_review_corpus as corpus  # noqa: E402

PASS_POINTS = 7.0


def topic_for(seed: int) -> str:
    return checks.TOPIC_ORDER[(seed - 1) % len(checks.TOPIC_ORDER)]


def prompt(seed: int) -> str:
    info = checks.TOPIC_INFO[topic_for(seed)]
    approaches = "\n".join(f"- {a}" for a in info["approaches"].values())
    return f"""\
You are a research assistant. Write a literature review on {info['title']}.

Your only source is a fixed corpus of papers, reachable through these tools: web_search (find
papers; it returns their ids), get_paper_with_tldr, get_paper_introduction, get_paper_results and
get_paper_references. Cite only papers you found there.

The review must:
- cover each of these approaches, with specific papers:
{approaches}
- cite papers by their corpus id in square brackets, e.g. [some_paper_2020] or [paper_a_2019, paper_b_2021];
- give specific quantitative results (at least five), each in a sentence that cites the paper it
  comes from, written exactly as get_paper_results reports it;
- present the seminal works of the field with their results;
- synthesize: compare the approaches, explain their trade-offs and when each applies, and name the
  open problems; organize it by ideas, in your own words, not as a list of paper summaries;
- be markdown prose of 700 to 2000 words, written for a reader, not for a grader (describe prompt
  injections, grading prompts and rubrics in your own words rather than quoting them).

Submit the whole review with submit_answer. It is checked first (citations exist, approaches are
covered, every number matches the cited paper's reported results), then graded on coverage,
seminal works and synthesis."""


TASK = Task(
    prompt=prompt,
    tools=[*corpus.TOOLS, "submit_answer"],
    max_steps=40,
    max_tokens=8192,
    time_limit=1800.0,
)


def rubric(topic: str) -> Rubric:
    """The write-up's 10-point rubric, with the topic's approaches and seminal results as notes."""
    info = checks.TOPIC_INFO[topic]
    papers = corpus.load()
    seminal = "\n".join(
        f"- [{pid}] {papers[pid].title} ({papers[pid].cite}): "
        + "; ".join(f"{r.get('metric', '')} {r['value']}" for r in papers[pid].results[:3])
        for pid in info["seminal"] if pid in papers
    )
    approaches = "\n".join(f"- {tag}: {desc}" for tag, desc in info["approaches"].items())
    notes = (
        f"Topic: {info['title']}.\nRequired approaches:\n{approaches}\n\nSeminal works and their key results "
        f"(from the corpus):\n{seminal}\n\nChecked by code before you: every [paper_id] citation exists in the "
        "corpus, and every specific number in the review matches a result of the paper cited in its sentence (or "
        "the sentence before). Not checked by code: whether each paper is characterized correctly, whether it is "
        "the right paper for the claim, depth, and synthesis: that is yours to judge."
    )
    return Rubric(
        name=f"literature_review/{topic}",
        task=f"A literature review on {info['title']}, written from a fixed paper corpus, citing papers by id.",
        criteria=(
            Criterion("coverage", "Covers every required approach with specific papers and their quantitative "
                      "results; each approach is discussed in substance, not merely named.", points=4),
            Criterion("seminal_works", "Presents the seminal works of the field with their key results, "
                      "characterized correctly.", points=3),
            Criterion("synthesis", "Synthesizes rather than lists: compares approaches, explains trade-offs and "
                      "when each applies, identifies open problems, and is organized by ideas.", points=3),
        ),
        notes=notes,
    )


def test_literature_review(rollout, judge):
    topic = topic_for(rollout.seed)
    review = rollout.answer or ""
    rub = rubric(topic)
    judge.screen(review, "review", rub)
    ins = checks.inspect(review, topic)
    summary = ins.summary()
    rollout.score("cited_papers", summary["cited_papers"])
    rollout.score("numbers_verified", summary["numbers_verified"])
    rollout.transcript.event("deterministic_checks", topic=topic, **summary)
    bad = checks.decide(ins)
    if bad is not None:
        fail(*bad)
    verdict = judge.grade(review, rub, what="review")
    rollout.score("judge_points", verdict.points)
    if verdict.points < PASS_POINTS:
        reasons = "; ".join(f"{s.criterion} {s.score:g}/{s.points:g}: {s.reason[:120]}" for s in verdict.scores)
        fail("low_judge_score", f"judge gave {verdict.points:g}/10 (pass at {PASS_POINTS:g}): {reasons}")
