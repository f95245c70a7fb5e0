"""The shipped paper corpus: loading, BM25 search (bm25s), and the tools the agent reads it with.

Used by ``task.py`` (the tools), ``grader.py`` (what citations and numbers are checked against) and
``tasks/idea_proposal``.

The corpus (``corpus/*.json``) describes real papers; every sentence in it was written for this
task, and its numbers are the ones the papers report. It is fixed, so a rollout today and a
rollout next year search the same literature. Tools run in the harness, over this read-only data:
no agent code runs here, and the grader's rubric and checks are not reachable through them.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

from pytest_rltask import ToolResult, tool
from pytest_rltask.tools import ToolInputError

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "corpus"
TOPICS = ("memory", "rl_alignment", "robotics")
FIELDS = ("id", "title", "short", "authors", "year", "venue", "topic", "approaches", "summary",
          "introduction", "results", "references")
ID = re.compile(r"^[a-z][a-z0-9_]*_(19|20)\d\d$")


class CorpusError(ValueError):
    """The shipped corpus is malformed (a packaging error, never the agent's)."""


@dataclasses.dataclass(frozen=True)
class Paper:
    id: str
    title: str
    short: tuple[str, ...]
    authors: tuple[str, ...]
    year: int
    venue: str
    topic: str
    approaches: tuple[str, ...]
    summary: str
    introduction: str
    results: tuple[dict[str, str], ...]
    references: tuple[str, ...]

    @property
    def group_author(self) -> bool:
        first = self.authors[0] if self.authors else ""
        return " " not in first or first.split()[-1] in ("Team", "Collaboration", "Consortium")

    @property
    def first_author_surname(self) -> str:
        first = self.authors[0] if self.authors else ""
        return first if self.group_author else first.split()[-1]

    @property
    def cite(self) -> str:
        """'Dai et al., 2019' style, for search results."""
        if self.group_author and len(self.authors) == 1:
            return f"{self.authors[0]}, {self.year}"
        n = len([a for a in self.authors if a != "et al."])
        who = self.first_author_surname + (" et al." if n > 2 or "et al." in self.authors else
                                           f" and {self.authors[1].split()[-1]}" if n == 2 else "")
        return f"{who}, {self.year}"

    def text(self) -> str:
        """Everything the paper's record says (what numbers attributed to it are checked against)."""
        res = " ".join(f"{r.get('metric', '')} {r.get('value', '')} {r.get('setting', '')}" for r in self.results)
        return " ".join([self.title, " ".join(self.short), self.summary, self.introduction, res])


def _paper(raw: dict[str, Any], where: str) -> Paper:
    missing = [f for f in FIELDS if f not in raw]
    if missing:
        raise CorpusError(f"{where}: paper {raw.get('id')!r} lacks {missing}")
    if not ID.match(raw["id"]):
        raise CorpusError(f"{where}: bad paper id {raw['id']!r}")
    if raw["topic"] not in TOPICS:
        raise CorpusError(f"{where}: {raw['id']}: unknown topic {raw['topic']!r}")
    results = raw["results"]
    if not results or not all(isinstance(r, dict) and r.get("value") for r in results):
        raise CorpusError(f"{where}: {raw['id']}: results need metric/value entries")
    return Paper(
        id=raw["id"], title=raw["title"], short=tuple(raw["short"]), authors=tuple(raw["authors"]),
        year=int(raw["year"]), venue=raw["venue"], topic=raw["topic"], approaches=tuple(raw["approaches"]),
        summary=raw["summary"], introduction=raw["introduction"],
        results=tuple({k: str(v) for k, v in r.items()} for r in results),
        references=tuple(raw["references"]),
    )


@functools.lru_cache(maxsize=None)
def load(folder: Path = CORPUS_DIR) -> dict[str, Paper]:
    """Every paper, by id, in file then list order; references checked to stay inside the corpus."""
    papers: dict[str, Paper] = {}
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise CorpusError(f"no corpus files in {folder}")
    for f in files:
        for raw in json.loads(f.read_text(encoding="utf-8")):
            p = _paper(raw, f.name)
            if p.id in papers:
                raise CorpusError(f"{f.name}: duplicate paper id {p.id!r}")
            papers[p.id] = p
    for p in papers.values():
        bad = [r for r in p.references if r not in papers]
        if bad:
            raise CorpusError(f"{p.id}: references outside the corpus: {bad}")
    return papers


class Index:
    """BM25 (bm25s, Lucene's variant) over title, names, authors, venue, summary, introduction, results."""

    def __init__(self, papers: dict[str, Paper]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.ids = list(papers)
        self.papers = papers
        docs = [
            " ".join([p.title, p.title, " ".join(p.short), " ".join(p.authors), p.venue, p.summary,
                      p.introduction, " ".join(r.get("metric", "") + " " + r.get("setting", "") for r in p.results)])
            for p in papers.values()
        ]
        self.retriever = bm25s.BM25()
        self.retriever.index(self._tokenize(docs), show_progress=False)

    def _tokenize(self, texts: list[str]) -> Any:
        return self._bm25s.tokenize(texts, stopwords="en", show_progress=False)

    def search(self, query: str, k: int = 8) -> list[tuple[Paper, float]]:
        """Top-k papers with a positive score, best first (ties in corpus order)."""
        tokens = self._tokenize([query])
        if not any(len(t) for t in tokens.ids):
            return []
        k = max(1, min(k, len(self.ids)))
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False)
        out = [(self.papers[self.ids[int(d)]], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
        out.sort(key=lambda x: (-round(x[1], 6), self.ids.index(x[0].id)))
        return out


@functools.lru_cache(maxsize=None)
def index() -> Index:
    return Index(load())


# -- tools ------------------------------------------------------------------------------------
def _paper_arg(inp: dict[str, Any]) -> Paper:
    raw = inp.get("paper_id")
    if not isinstance(raw, str) or not raw.strip():
        raise ToolInputError("missing required input 'paper_id' (an id from web_search, e.g. rag_2020)")
    pid = raw.strip().strip("[]").strip().lower()
    papers = load()
    if pid not in papers:
        raise ToolInputError(f"no paper with id {raw!r} in the corpus; find ids with web_search")
    return papers[pid]


def _header(p: Paper) -> str:
    return f"[{p.id}] {p.title}\n{', '.join(p.authors)} ({p.year}). {p.venue}."


@tool(
    "web_search",
    "Search the paper corpus (a fixed snapshot of the literature; BM25 ranking). Returns paper ids, titles, "
    "authors, years and a one-line summary. Use the ids with the get_paper_* tools and in citations.",
    {"query": {"type": "string"}, "limit": {"type": "integer", "description": "results to return, 1-15 (default 8)"}},
    ["query"],
)
async def web_search(ep: Any, inp: dict[str, Any]) -> ToolResult:
    q = inp.get("query")
    if not isinstance(q, str) or not q.strip():
        raise ToolInputError("missing required input 'query'")
    limit = inp.get("limit", 8)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 15:
        raise ToolInputError("input 'limit' must be a whole number from 1 to 15")
    hits = index().search(q[:500], limit)
    if not hits:
        return ToolResult(f"no papers match {q!r}; try other words")
    lines = [f"{len(hits)} papers for {q!r}:"]
    for i, (p, score) in enumerate(hits, 1):
        tldr = p.summary if len(p.summary) <= 160 else p.summary[:157].rsplit(" ", 1)[0] + "..."
        lines.append(f"{i}. [{p.id}] {p.title} ({p.cite}; {p.venue}) score {score:.2f}\n   {tldr}")
    return ToolResult("\n".join(lines))


def _paper_tool(name: str, description: str, render: Any) -> Any:
    """A tool that takes a paper id and shows one view of that paper."""

    @tool(name, description, {"paper_id": {"type": "string"}}, ["paper_id"])
    async def view(ep: Any, inp: dict[str, Any]) -> ToolResult:
        return ToolResult(render(_paper_arg(inp)))

    return view


def _results(p: Paper) -> str:
    lines = [_header(p), "Key results:"]
    for r in p.results:
        setting = f" ({r['setting']})" if r.get("setting") else ""
        lines.append(f"- {r.get('metric', '')}: {r['value']}{setting}")
    return "\n".join(lines)


get_paper_with_tldr = _paper_tool(
    "get_paper_with_tldr", "A paper's metadata (title, authors, year, venue) and its TL;DR summary.",
    lambda p: f"{_header(p)}\nTL;DR: {p.summary}")
get_paper_introduction = _paper_tool(
    "get_paper_introduction",
    "An excerpt of a paper's introduction: the problem, prior work's limits, the idea and the contributions.",
    lambda p: f"{_header(p)}\nIntroduction (excerpt): {p.introduction}")
get_paper_results = _paper_tool(
    "get_paper_results", "A paper's key quantitative results, as reported in the paper.", _results)


@tool(
    "get_paper_references",
    "The papers in the corpus that this paper cites, and those in the corpus that cite it.",
    {"paper_id": {"type": "string"}},
    ["paper_id"],
)
async def get_paper_references(ep: Any, inp: dict[str, Any]) -> ToolResult:
    p = _paper_arg(inp)
    papers = load()
    refs = [papers[r] for r in p.references]
    cited_by = [q for q in papers.values() if p.id in q.references]
    lines = [f"[{p.id}] {p.title}", f"References in the corpus ({len(refs)}):"]
    lines += [f"- [{q.id}] {q.title} ({q.cite})" for q in refs] or ["- (none)"]
    lines.append(f"Cited by, in the corpus ({len(cited_by)}):")
    lines += [f"- [{q.id}] {q.title} ({q.cite})" for q in cited_by] or ["- (none)"]
    return ToolResult("\n".join(lines))


TOOLS = [web_search, get_paper_with_tldr, get_paper_introduction, get_paper_results, get_paper_references]


def reading_notes(topic: str) -> str:
    """Reading notes on one topic, made from the corpus records alone (what ``tasks/idea_proposal``
    hands its agent as "the literature your team has read"): per approach tag, each paper's id,
    title, TL;DR and results. Nothing in them is not already in the corpus."""
    papers = [p for p in load().values() if p.topic == topic]
    tags = list(dict.fromkeys(t for p in papers for t in p.approaches))
    lines = [f"# Reading notes: {topic.replace('_', ' ')}", ""]
    for tag in tags:
        lines += [f"## {tag.replace('_', ' ')}", ""]
        for p in papers:
            if p.approaches and p.approaches[0] == tag:
                lines.append(f"- [{p.id}] {p.title} ({p.cite}). {p.summary}")
                lines += [f"  - {r.get('metric', '')}: {r['value']}" + (f" ({r['setting']})" if r.get("setting") else "")
                          for r in p.results]
        lines.append("")
    return "\n".join(lines)
