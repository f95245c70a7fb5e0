"""tasks/idea_proposal: 3-5 research ideas grounded in the shipped literature, scored by a judge.

From the same write-up as tasks/literature_review: the agent read its literature review and
proposed research ideas; a Sonnet judge scored each idea on business viability (30%), upside
(25%), likelihood of success (30%) and novelty (15%). With a fixed threshold of 7 the write-up's
agent averaged 5.6 and passed 0% of the time, out of band. Here the threshold is a calibrated
setting (``calibration.json``, written by ``calibrate.py`` from a live run's transcripts).

The deterministic part decides the structure first: text aimed at the judge
(``judge_injection``), 3-5 ideas (``wrong_idea_count``), every section present with substance
(``missing_section``), only corpus papers cited (``invented_paper``), evidence cited for every
idea (``no_evidence``), ideas distinct (``duplicate_ideas``). The judge then scores each idea on
its own, and the run passes when the mean weighted score reaches the threshold
(``low_judge_score`` otherwise).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIT = HERE.parent / "literature_review"
for p in (HERE, LIT):  # helpers live beside this module and in the literature_review task
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from pytest_rltask import Task, fail  # noqa: E402
from pytest_rltask.judge import Criterion, Rubric  # noqa: E402

import idea_proposal_checks as checks  # noqa: E402
import literature_review_checks as lit  # noqa: E402
import literature_review_corpus as corpus  # noqa: E402

CALIBRATION = HERE / "calibration.json"
THRESHOLD_ENV = "RLTASK_IDEA_PROPOSAL_THRESHOLD"


def threshold() -> float:
    """The pass threshold on the mean weighted idea score (0-10): the env var, else calibration.json."""
    raw = os.environ.get(THRESHOLD_ENV)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{THRESHOLD_ENV} must be a number from 0 to 10, got {raw!r}") from None
    else:
        value = float(json.loads(CALIBRATION.read_text())["threshold"])
    if not 0 <= value <= 10:
        raise ValueError(f"the idea_proposal threshold must be from 0 to 10, got {value}")
    return value


def _measured() -> bool:
    """Whether calibration.json came from calibrate.py on a live run (the shipped prior did not)."""
    try:
        return bool(json.loads(CALIBRATION.read_text()).get("measured"))
    except (OSError, ValueError):
        return False


REVIEWS = ("memory", "rl_alignment", "robotics")

PROMPT = """\
You are a research lead planning the next quarter. The workspace holds the literature your team
has read:
- literature/reviews/*.md: literature reviews of LLM long-term memory, RL and alignment, and robot
  learning, citing papers by id, e.g. [rag_2020];
- literature/papers.jsonl: the corpus those reviews cite (one paper per line: id, title, authors,
  year, venue, summary, key results).
You can also search and read the corpus with web_search, get_paper_with_tldr,
get_paper_introduction, get_paper_results and get_paper_references.

Propose 3 to 5 distinct research ideas. Write them in markdown, exactly in this form:

# Research proposal: <title>

## Idea 1: <title>
### Problem evidence
<what is broken or missing today, with evidence from papers cited by id in square brackets>
### Approach
<what you would build or test, concretely>
### Baseline comparison
<the simplest baseline that could solve the problem, and how you would compare against it: data, metric>
### Risks
<what could make it fail, and how you would find out early>
### Why it matters
<who benefits and what changes if it works>

## Idea 2: ...

Every section needs substance (at least 25 words), and the problem evidence of every idea must cite
papers from the corpus; cite only corpus ids. Write for a research lead, not for a grader: describe
prompt injections, grading prompts and rubrics in your own words rather than quoting them. Each idea is scored on business viability (30%),
upside (25%), likelihood of success (30%) and novelty (15%). Submit the whole proposal with
submit_answer."""


def workspace(ws: Path, seed: int) -> None:
    lit_dir = ws / "literature"
    (lit_dir / "reviews").mkdir(parents=True)
    for name in REVIEWS:
        (lit_dir / "reviews" / f"{name}.md").write_text((LIT / "reviews" / f"{name}.md").read_text(encoding="utf-8"))
    with open(lit_dir / "papers.jsonl", "w", encoding="utf-8") as fh:
        for p in corpus.load().values():
            fh.write(json.dumps({"id": p.id, "title": p.title, "authors": list(p.authors), "year": p.year,
                                 "venue": p.venue, "summary": p.summary, "results": list(p.results)},
                                ensure_ascii=False) + "\n")


TASK = Task(
    prompt=PROMPT,
    tools=["read_file", "list_files", *corpus.TOOLS, "submit_answer"],
    files=workspace,
    max_steps=40,
    max_tokens=8192,
    time_limit=1800.0,
)

CRITERIA = (
    Criterion("business_viability", "Would an organization fund and adopt it: a concrete beneficiary, a plausible "
              "path to use, cost proportionate to the value.", points=10, weight=0.30),
    Criterion("upside", "How much changes if it works: size of the improvement and breadth of impact.",
              points=10, weight=0.25),
    Criterion("likelihood_of_success", "Feasible in months with realistic resources; grounded in the cited "
              "evidence; a concrete, testable approach with a fair simplest baseline and early checks on its risks.",
              points=10, weight=0.30),
    Criterion("novelty", "Goes beyond the cited work and beyond generic 'combine X and Y': a specific new "
              "mechanism, measurement or finding.", points=10, weight=0.15),
)


def rubric(idea: checks.Idea | None = None, others: list[checks.Idea] = ()) -> Rubric:
    """The per-idea rubric; its notes carry the cited papers' TL;DRs and the proposal's other ideas."""
    papers = corpus.load()
    cited = [c for c in dict.fromkeys(lit.cited_ids(idea.text)) if c in papers] if idea else []
    evidence = "\n".join(f"- [{c}] {papers[c].title} ({papers[c].cite}): {papers[c].summary}" for c in cited)
    siblings = "\n".join(f"- Idea {o.number}: {o.title}: {' '.join(o.sections.get('approach', '').split()[:60])}"
                         for o in others)
    return Rubric(
        name="idea_proposal/idea",
        task="One research idea from a proposal of 3-5, with problem evidence, approach, baseline comparison, "
             "risks and why it matters, grounded in a fixed literature corpus.",
        criteria=CRITERIA,
        notes=("Score this idea on its own, 0-10 per criterion. Generic ideas that combine two named techniques "
               "without a concrete mechanism, data, baseline and metric deserve at most 3 on "
               "likelihood_of_success and novelty. Check the problem evidence against these summaries of the "
               f"papers it cites:\n{evidence or '(none)'}\n\nThe proposal's other ideas (title and approach); an "
               f"idea that restates one of them scores 0 on novelty and upside:\n{siblings or '(none)'}"),
    )


def test_idea_proposal(rollout, judge):
    proposal = rollout.answer or ""
    judge.screen(proposal, "proposal", rubric())
    summary = checks.inspect(proposal)
    rollout.transcript.event("deterministic_checks", **summary)
    rollout.score("ideas", len(summary["ideas"]))
    bad = checks.decide(proposal)
    if bad is not None:
        fail(*bad)
    scores = []
    ideas = checks.parse(proposal)
    for idea in ideas:
        verdict = judge.grade(idea.text, rubric(idea, [o for o in ideas if o is not idea]), what=f"idea {idea.number}")
        scores.append(verdict.weighted())
    mean = sum(scores) / len(scores)
    rollout.score("judge_mean", mean)
    need = threshold()
    rollout.score("threshold", need)
    rollout.transcript.event("threshold", value=need, source=os.environ.get(THRESHOLD_ENV) and THRESHOLD_ENV
                             or str(CALIBRATION.name), measured=_measured())
    if mean < need:
        fail("low_judge_score", f"mean weighted idea score {mean:.2f} < threshold {need:.2f} "
                                f"(ideas: {', '.join(f'{s:.2f}' for s in scores)})")
