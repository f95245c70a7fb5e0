"""The idea-proposal grader: structure, citations, numbers, copying, distinctness, then the judge per idea.

``parse`` splits a proposal into ideas and sections; ``decide`` returns the first failed check as
(category, message), or None when the ideas may go to the judge; ``grade`` runs both parts. The
measuring functions are tasks/literature_review's (citations in every style, numbers in every form,
copy similarity, words in every script).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from pytest_rltask import fail
from pytest_rltask.judge import Criterion, Rubric, screen

from ..literature_review import grader as lit
from ..literature_review import papers as corpus

HERE = Path(__file__).resolve().parent
CALIBRATION = HERE / "calibration.json"
THRESHOLD_ENV = "RLTASK_IDEA_PROPOSAL_THRESHOLD"
CRITERIA = ("business_viability", "upside", "likelihood_of_success", "novelty")  # the judge rubric's names
SECTIONS = ("problem evidence", "approach", "baseline comparison", "risks", "why it matters")
MIN_IDEAS, MAX_IDEAS = 3, 5
MIN_SECTION_WORDS = 25
MAX_WORDS = 4000
MAX_CHARS = 10 * MAX_WORDS  # the shipped proposals run about 7 characters a word
MAX_COPY = 0.20
MAX_OVERLAP = 0.4  # stem Jaccard of two ideas above which they are one idea (shipped distinct ideas: < 0.2)
SAME_SOURCES = 0.6  # cited-paper Jaccard above which two ideas rest on the same evidence...
SAME_SOURCES_OVERLAP = 0.25  # ...and are one idea if they also share this much of their words
IDEA_FLOOR = 3.0  # an idea with any criterion under 3/10 scores 0 (a restated idea cannot carry the mean)

IDEA_H = re.compile(r"^##(?!#)\s*Idea\s*(\d+)\s*[:.)\-\u2013\u2014]?\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
SECTION_H = re.compile(r"^###(?!#)\s*(.+?)\s*:?\s*$", re.MULTILINE)
STOP = lit.STOP | set("idea ideas better propose proposal would could".split())


@dataclasses.dataclass
class Idea:
    number: int
    title: str
    text: str
    sections: dict[str, str]

    def words(self, section: str) -> int:
        return lit.count_words(self.sections.get(section, ""))


def parse(text: str) -> list[Idea]:
    heads = list(IDEA_H.finditer(text))
    ideas = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[h.start():end]
        secs: dict[str, str] = {}
        sh = list(SECTION_H.finditer(body))
        for j, s in enumerate(sh):
            name = re.sub(r"\s+", " ", s.group(1).strip().lower())
            s_end = sh[j + 1].start() if j + 1 < len(sh) else len(body)
            if name in SECTIONS:
                secs[name] = secs.get(name, "") + body[s.end():s_end].strip()
        ideas.append(Idea(int(h.group(1)), h.group(2).strip(), body.strip(), secs))
    return ideas


def content_words(s: str) -> set[str]:
    """Stemmed content words, citations removed (so "improving" and "improves" are one word)."""
    return {w for w in lit.copy_stems(lit.CITE.sub(" ", s)) if len(w) > 3 and w not in STOP}


def overlap(a: Idea, b: Idea) -> float:
    """Jaccard similarity of the two ideas' stemmed content words, over their whole text."""
    wa, wb = content_words(a.text), content_words(b.text)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def sources(i: Idea) -> set[str]:
    return set(lit.cited_ids(i.text))


def verified_numbers(i: Idea) -> set[tuple[str, str]]:
    return {(",".join(c.papers), c.number) for c in idea_numbers(i) if c.ok}


def idea_numbers(i: Idea) -> list[lit.NumberCheck]:
    """Numbers an idea states about the literature: every number of its problem evidence, and, in the
    other sections, every number in a clause that cites or names a paper (its own targets and plans
are its own)."""
    out = lit.check_numbers(i.sections.get("problem evidence", ""))
    for name in SECTIONS[1:]:
        out += [c for c in lit.check_numbers(i.sections.get(name, "")) if c.how == "clause"]
    return out


def same_idea(a: Idea, b: Idea) -> str | None:
    """Why two ideas are one idea, or None: most of their words shared, or the same evidence (cited
    papers and verified numbers) with a good part of their words."""
    o = overlap(a, b)
    if o >= MAX_OVERLAP:
        return f"{o:.0%} of their content words are shared"
    sa, sb = sources(a), sources(b)
    src = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
    shared_numbers = verified_numbers(a) & verified_numbers(b)
    if src >= SAME_SOURCES and len(sa & sb) >= 2 and (o >= SAME_SOURCES_OVERLAP or shared_numbers):
        return (f"they cite the same papers ({', '.join(sorted(sa & sb))}), share {len(shared_numbers)} "
                f"result(s) and {o:.0%} of their content words")
    return None


@dataclasses.dataclass
class _Pool:
    pool: Any = None


_POOL = _Pool()


def copy_pool() -> lit.CopyPool:
    """Every text an agent could paste: the corpus, the reading notes this task hands out, and
    tasks/literature_review's reference reviews (public in this repository)."""
    if _POOL.pool is None:
        reviews = [(f"review:{p.stem}", p.read_text(encoding="utf-8"))
                   for p in sorted((lit.HERE / "reviews").glob("*.md"))]
        _POOL.pool = lit.CopyPool.build(lit.corpus_texts() + reviews +
                                        [(f"notes:{t}", corpus.reading_notes(t)) for t in lit.TOPIC_ORDER])
    return _POOL.pool


def inspect(text: str | None) -> dict:
    text = unicodedata.normalize("NFKC", text or "")
    ideas = parse(text)
    cited = lit.cited_ids(text)
    ratio, srcs = lit.copy_ratio(text, copy_pool()) if len(text) <= 4 * MAX_CHARS else (0.0, [])
    pairs = [(a, b) for k, a in enumerate(ideas) for b in ideas[k + 1:]]
    return {
        "words": lit.count_words(text), "chars": len(text),
        "ideas": [
            {"number": i.number, "title": i.title,
             "missing_sections": [s for s in SECTIONS if i.words(s) < MIN_SECTION_WORDS],
             "evidence_citations": lit.cited_ids(i.sections.get("problem evidence", "")),
             "numbers_verified": sorted(f"{n} ({p})" for p, n in verified_numbers(i)),
             "numbers_wrong": [str(c) for c in idea_numbers(i) if not c.ok]}
            for i in ideas
        ],
        "cited_papers": sorted(set(cited)),
        "unknown_citations": lit.unknown_sources(text),
        "copy_ratio": round(ratio, 3), "copy_sources": srcs[:5],
        "max_overlap": round(max((overlap(a, b) for a, b in pairs), default=0.0), 3),
        "injection": [str(f) for f in screen(text, CRITERIA)],
    }


def decide(text: str | None) -> tuple[str, str] | None:
    """(category, message) of the first failed check, or None (cached per text)."""
    return _decide(text or "")


@functools.lru_cache(maxsize=128)
def _decide(text: str) -> tuple[str, str] | None:
    text = unicodedata.normalize("NFKC", text)
    found = screen(text, CRITERIA)
    if found:
        return "judge_injection", "the proposal addresses the grader: " + "; ".join(map(str, found[:3]))
    words = lit.count_words(text)
    if words > MAX_WORDS or len(text) > MAX_CHARS:
        return "malformed", f"{words} words and {len(text)} characters; the limits are {MAX_WORDS} and {MAX_CHARS}"
    ideas = parse(text)
    if not MIN_IDEAS <= len(ideas) <= MAX_IDEAS:
        return "wrong_idea_count", (f"{len(ideas)} ideas under '## Idea N: title' headings; "
                                    f"{MIN_IDEAS} to {MAX_IDEAS} are required")
    for i in ideas:
        short = [s for s in SECTIONS if i.words(s) < MIN_SECTION_WORDS]
        if short:
            return "missing_section", (f"idea {i.number} lacks (or has under {MIN_SECTION_WORDS} words in) the "
                                       f"section(s): {', '.join(short)}")
    unknown = lit.unknown_sources(text)
    if unknown:
        return "invented_paper", f"cites sources that are not in the corpus: {', '.join(unknown[:6])}"
    ratio, srcs = lit.copy_ratio(text, copy_pool())
    if ratio > MAX_COPY:
        return "copied_corpus", (f"{ratio:.0%} of its content words are in sentences that restate known texts "
                                 f"({', '.join(srcs[:3])}; limit {MAX_COPY:.0%})")
    for i in ideas:
        if not lit.cited_ids(i.sections["problem evidence"]):
            return "no_evidence", f"idea {i.number}'s problem evidence cites no paper from the corpus"
    for i in ideas:
        bad = [c for c in idea_numbers(i) if not c.ok]
        if bad:
            return "invented_number", (f"idea {i.number}: {len(bad)} number(s) do not match a result of the paper "
                                       f"cited with them, e.g. {bad[0]}: {bad[0].sentence!r}")
    for i in ideas:
        if not verified_numbers(i):
            return "vague_idea", (f"idea {i.number} states no reported result of the papers it cites (a number "
                                  "with its metric, in the clause that cites the paper)")
    for k, a in enumerate(ideas):
        for b in ideas[k + 1:]:
            why = same_idea(a, b)
            if why:
                return "duplicate_ideas", f"ideas {a.number} and {b.number} are the same idea: {why}"
    return None


# -- the judge step -----------------------------------------------------------------------------
RUBRIC_CRITERIA = (
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


def threshold() -> float:
    """The pass threshold on the mean idea score (0-10): the env var, else calibration.json."""
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


def measured() -> bool:
    """Whether calibration.json came from calibrate.py on a live run (the shipped prior did not)."""
    try:
        return bool(json.loads(CALIBRATION.read_text()).get("measured"))
    except (OSError, ValueError):
        return False


def rubric(idea: Idea | None = None, others: list[Idea] = ()) -> Rubric:
    """The per-idea rubric; its notes carry the cited papers' TL;DRs, the proposal's other ideas and
    exactly what code verified in this idea."""
    papers = corpus.load()
    cited = list(dict.fromkeys(lit.cited_ids(idea.text))) if idea else []
    evidence = "\n".join(f"- [{c}] {papers[c].title} ({papers[c].cite}): {papers[c].summary}" for c in cited)
    siblings = "\n".join(f"- Idea {o.number}: {o.title}: {' '.join(o.sections.get('approach', '').split()[:60])}"
                         for o in others)
    verified = ""
    if idea is not None:
        ok = [c for c in idea_numbers(idea) if c.ok]
        sim = max((overlap(idea, o) for o in others), default=0.0)
        verified = (
            "\n\nWhat code verified in this idea (nothing more): its citations resolve to corpus papers "
            f"({', '.join(cited) or 'none'}); these {len(ok)} numbers are reported results of the paper cited in "
            "their clause (value, unit and a metric word agreeing):\n"
            + ("\n".join(f"- {c}" for c in ok[:20]) or "- (none)")
            + f"\nIt shares at most {sim:.0%} of its content words with another idea of the proposal, and its "
            f"sentences do not restate the corpus or the shipped reviews beyond {MAX_COPY:.0%}. Not checked by "
            "code: whether the evidence supports the claim, whether the approach is feasible or new, and the "
            "idea's own targets and estimates.")
    return Rubric(
        name="idea_proposal/idea",
        task="One research idea from a proposal of 3-5, with problem evidence, approach, baseline comparison, "
             "risks and why it matters, grounded in a fixed literature corpus.",
        criteria=RUBRIC_CRITERIA,
        notes=("Score this idea on its own, 0-10 per criterion. Generic ideas that combine two named techniques "
               "without a concrete mechanism, data, baseline and metric deserve at most 3 on "
               "likelihood_of_success and novelty. Check the problem evidence against these summaries of the "
               f"papers it cites:\n{evidence or '(none)'}\n\nThe proposal's other ideas (title and approach); an "
               f"idea that restates one of them scores 0 on novelty and upside:\n{siblings or '(none)'}{verified}"),
    )


def idea_score(verdict: Any) -> float:
    """The weighted 0-10 score, or 0 when any criterion is under IDEA_FLOOR: an idea that fails one
    criterion (a restatement: novelty 0) cannot be carried by the others."""
    if any(s.score < IDEA_FLOOR * s.points / 10 for s in verdict.scores):
        return 0.0
    return verdict.weighted()


def grade(proposal: str | None, judge: Any, rollout: Any = None) -> list[float]:
    """The whole grader: screen, deterministic checks, one judge call per idea, the mean against the
    threshold; raises a failure with its category."""
    proposal = proposal or ""
    judge.screen(proposal, "proposal", rubric())
    if rollout is not None:
        summary = inspect(proposal)
        rollout.transcript.event("deterministic_checks", **summary)
        rollout.score("ideas", len(summary["ideas"]))
    bad = decide(proposal)
    if bad is not None:
        fail(*bad)
    scores = []
    ideas = parse(unicodedata.normalize("NFKC", proposal))
    for idea in ideas:
        verdict = judge.grade(idea.text, rubric(idea, [o for o in ideas if o is not idea]), what=f"idea {idea.number}")
        scores.append(idea_score(verdict))
    mean = sum(scores) / len(scores)
    need = threshold()
    if rollout is not None:
        rollout.score("judge_mean", mean)
        rollout.score("threshold", need)
        rollout.transcript.event("threshold", value=need, source=os.environ.get(THRESHOLD_ENV) and THRESHOLD_ENV
                                 or str(CALIBRATION.name), measured=measured())
    if mean < need:
        fail("low_judge_score", f"mean idea score {mean:.2f} < threshold {need:.2f} "
                                f"(ideas: {', '.join(f'{s:.2f}' for s in scores)})")
    return scores
