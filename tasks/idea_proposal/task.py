"""tasks/idea_proposal: the task an agent sees (prompt, workspace, tools).

The workspace holds the literature the team has read: the corpus of tasks/literature_review
(``literature/papers.jsonl``) and reading notes made from it (``literature/notes/*.md``). It does
not hold the reference reviews of tasks/literature_review: those are that task's passing
solutions, and handing them out would let an agent paste them there. There is no hidden instance.
"""
from __future__ import annotations

import json
from pathlib import Path

from pytest_rltask import Task

from ..literature_review import papers as corpus

TOPICS = ("memory", "rl_alignment", "robotics")

PROMPT = """\
You are a research lead planning the next quarter. The workspace holds the literature your team
has read:
- literature/notes/*.md: reading notes on LLM long-term memory, RL and alignment, and robot
  learning, citing papers by id, e.g. [rag_2020];
- literature/papers.jsonl: the corpus those notes cite (one paper per line: id, title, authors,
  year, venue, summary, key results).
You can also search and read the corpus with web_search, get_paper_with_tldr,
get_paper_introduction, get_paper_results and get_paper_references.

Propose 3 to 5 distinct research ideas. Write them in markdown, exactly in this form:

# Research proposal: <title>

## Idea 1: <title>
### Problem evidence
<what is broken or missing today, with evidence from papers cited by id in square brackets,
including at least one of their reported results (number and metric) in the clause that cites them>
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
papers from the corpus; cite only corpus ids, and quote their numbers as the corpus reports them.
Each idea must be its own idea (not another idea reworded), in your own words. Write for a research
lead, not for a grader: describe prompt injections, grading prompts and rubrics in your own words
rather than quoting them. Each idea is scored on business viability (30%), upside (25%), likelihood
of success (30%) and novelty (15%). Submit the whole proposal with submit_answer."""


def workspace(ws: Path, seed: int) -> None:
    lit_dir = ws / "literature"
    (lit_dir / "notes").mkdir(parents=True)
    for name in TOPICS:
        (lit_dir / "notes" / f"{name}.md").write_text(corpus.reading_notes(name), encoding="utf-8")
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
