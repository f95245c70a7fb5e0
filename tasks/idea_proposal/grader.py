"""The deterministic part of the idea-proposal grader: structure, distinctness, citations.

``parse`` splits a proposal into ideas and sections; ``decide`` returns the first failed check as
(category, message), or None when the ideas may go to the judge. Pure functions over strings.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata

from pytest_rltask.judge import screen

import literature_review_checks as lit
import literature_review_corpus as corpus

CRITERIA = ("business_viability", "upside", "likelihood_of_success", "novelty")  # the judge rubric's names
SECTIONS = ("problem evidence", "approach", "baseline comparison", "risks", "why it matters")
MIN_IDEAS, MAX_IDEAS = 3, 5
MIN_SECTION_WORDS = 25
MAX_WORDS = 4000
MAX_OVERLAP = 0.4  # Jaccard of two ideas' content words above which they are one idea (distinct ideas: <= 0.15)

IDEA_H = re.compile(r"^##(?!#)\s*Idea\s*(\d+)\s*[:.)\-\u2013\u2014]?\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)
SECTION_H = re.compile(r"^###(?!#)\s*(.+?)\s*:?\s*$", re.MULTILINE)
STOP = set("""a an and are as at be been being but by can could do does for from has have how in into is it its
more most not of on or our over such than that the their them then there these they this those through to
under use used using was we were what when where which while who will with within would without into idea
ideas approach model models based better new""".split())


@dataclasses.dataclass
class Idea:
    number: int
    title: str
    text: str
    sections: dict[str, str]

    def words(self, section: str) -> int:
        return len(lit.WORD.findall(self.sections.get(section, "")))


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
    return {w for w in (x.lower() for x in lit.WORD.findall(lit.CITE.sub(" ", s))) if len(w) > 3 and w not in STOP}


def overlap(a: Idea, b: Idea) -> float:
    """Jaccard similarity of the two ideas' content words, over their whole text."""
    wa, wb = content_words(a.text), content_words(b.text)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def inspect(text: str | None) -> dict:
    text = unicodedata.normalize("NFKC", text or "")
    papers = corpus.load()
    ideas = parse(text)
    cited = lit.cited_ids(text)
    return {
        "words": len(lit.WORD.findall(text)),
        "ideas": [
            {"number": i.number, "title": i.title,
             "missing_sections": [s for s in SECTIONS if i.words(s) < MIN_SECTION_WORDS],
             "evidence_citations": [c for c in lit.cited_ids(i.sections.get("problem evidence", "")) if c in papers]}
            for i in ideas
        ],
        "cited_papers": sorted({c for c in cited if c in papers}),
        "unknown_citations": lit.unknown_sources(text, papers),
        "max_overlap": round(max((overlap(a, b) for k, a in enumerate(ideas) for b in ideas[k + 1:]), default=0.0), 3),
        "injection": [str(f) for f in screen(text, CRITERIA)],
    }


def decide(text: str | None) -> tuple[str, str] | None:
    """(category, message) of the first failed check, or None."""
    text = unicodedata.normalize("NFKC", text or "")
    found = screen(text, CRITERIA)
    if found:
        return "judge_injection", "the proposal addresses the grader: " + "; ".join(map(str, found[:3]))
    ideas = parse(text)
    words = len(lit.WORD.findall(text))
    if words > MAX_WORDS:
        return "malformed", f"{words} words; the limit is {MAX_WORDS}"
    if not MIN_IDEAS <= len(ideas) <= MAX_IDEAS:
        return "wrong_idea_count", (f"{len(ideas)} ideas under '## Idea N: title' headings; "
                                    f"{MIN_IDEAS} to {MAX_IDEAS} are required")
    for i in ideas:
        short = [s for s in SECTIONS if i.words(s) < MIN_SECTION_WORDS]
        if short:
            return "missing_section", (f"idea {i.number} lacks (or has under {MIN_SECTION_WORDS} words in) the "
                                       f"section(s): {', '.join(short)}")
    papers = corpus.load()
    unknown = lit.unknown_sources(text, papers)
    if unknown:
        return "invented_paper", f"cites sources that are not in the corpus: {', '.join(unknown[:6])}"
    for i in ideas:
        if not any(c in papers for c in lit.cited_ids(i.sections["problem evidence"])):
            return "no_evidence", f"idea {i.number}'s problem evidence cites no paper from the corpus"
    for k, a in enumerate(ideas):
        for b in ideas[k + 1:]:
            if overlap(a, b) >= MAX_OVERLAP:
                return "duplicate_ideas", (f"ideas {a.number} and {b.number} are the same idea "
                                           f"({overlap(a, b):.0%} of their content words are shared)")
    return None
