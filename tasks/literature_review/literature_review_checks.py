"""The deterministic part of the literature-review grader: everything decidable without a model.

``inspect(text, topic)`` measures a review (citations, approaches, attributed numbers, prose,
overlap with the corpus, text aimed at the grader); ``decide`` turns the measurements into a
failure category, or None when the review may go to the judge. Pure functions over strings, so
hypothesis can test them and ``check_review.py`` can run them on a draft.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Iterable

from pytest_rltask.judge import screen

import literature_review_corpus as corpus

TOPIC_INFO: dict[str, dict] = {
    "memory": {
        "title": "long-term memory for large language models",
        "approaches": {
            "extended_context": "extending the context window (efficient attention, recurrence, position encodings)",
            "retrieval": "retrieval augmentation (retrieving text or memories into the context)",
            "summarization": "summarization and compression of past context",
            "memory_architecture": "memory architectures and agents that manage their own memory (e.g. MemGPT)",
            "model_editing": "editing the knowledge stored in the weights (e.g. ROME, MEMIT)",
        },
        "seminal": ["transformer_xl_2019", "rag_2020", "retro_2022", "memgpt_2023", "rome_2022", "memit_2023"],
    },
    "rl_alignment": {
        "title": "reinforcement learning and alignment",
        "approaches": {
            "rlhf": "reinforcement learning from human feedback and preference optimization",
            "continual_rl": "continual reinforcement learning (learning without forgetting, plasticity)",
            "world_models": "world models and model-based RL",
            "sequence_models": "RL as sequence modelling and offline RL (e.g. Decision Transformer)",
        },
        "seminal": ["human_preferences_2017", "instructgpt_2022", "dpo_2023", "ewc_2017", "world_models_2018",
                    "dreamerv3_2023", "decision_transformer_2021"],
    },
    "robotics": {
        "title": "robot learning",
        "approaches": {
            "robot_foundation_models": "robot foundation models: large robot transformers and vision-language-action "
                                       "models (e.g. RT-1, RT-2)",
            "sim_to_real": "sim-to-real transfer",
            "imitation_learning": "imitation learning from demonstrations",
        },
        "seminal": ["rt1_2022", "rt2_2023", "domain_randomization_2017", "dagger_2011", "diffusion_policy_2023"],
    },
}
TOPIC_ORDER = ("memory", "rl_alignment", "robotics")
CRITERIA = ("coverage", "seminal_works", "synthesis")  # the judge rubric's criterion names (the screen knows them)

MIN_WORDS, MAX_WORDS = 450, 3000  # prose words, total words
MIN_NUMBERS = 5  # distinct (paper, number) pairs checked against the corpus
MAX_COPY = 0.20  # share of the review's 8-word runs found verbatim in the corpus
SHINGLE = 8

CITE = re.compile(r"\[([A-Za-z0-9_]+(?:\s*[,;]\s*[A-Za-z0-9_]+)*)\](?!\()")
NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s?%|\s?(?:x|×)(?![a-wyz])|\s?(?:k|K|M|B|T)\b|\s(?:thousand|million|billion|trillion)\b)?"
)
SCALE = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, "thousand": 1e3, "million": 1e6, "billion": 1e9,
         "trillion": 1e12}
ABBREV = re.compile(r"\b(?:et al|e\.g|i\.e|vs|cf|Fig|Eq|Sec|approx|resp|al)\.$")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclasses.dataclass(frozen=True)
class Number:
    raw: str
    value: float
    decimals: int
    has_unit: bool
    scale: float = 1.0


def numbers_in(text: str, *, all_numbers: bool = False) -> list[Number]:
    """Numbers in text, skipping those inside names (GPT-3, RT-2, T5). Unless ``all_numbers``,
    years and small bare integers (<= 10: counts like 'three'/'3') are skipped too."""
    out = []
    for m in NUMBER.finditer(text):
        start = m.start()
        prev = text[start - 1] if start else " "
        prev2 = text[start - 2] if start > 1 else " "
        if prev.isalpha() or (prev == "-" and prev2.isalnum()):
            continue  # part of a name: GPT-3, RT-2, Llama-2, CW10
        nxt = text[m.end(1):m.end(1) + 1]
        unit = (m.group(2) or "").strip()
        if not unit and nxt.isalpha():
            continue  # 3D, 2nd, 7th
        num = m.group(1)
        value = float(num.replace(",", ""))
        decimals = len(num.split(".")[1]) if "." in num else 0
        scale = SCALE.get(unit, 1.0)
        if not all_numbers and not unit and decimals == 0:
            if value <= 10 or (1950 <= value <= 2035 and "," not in num):
                continue
        out.append(Number(m.group(0).strip(), value * scale, decimals, bool(unit), scale))
    return out


def paper_numbers(paper: corpus.Paper) -> set[float]:
    """Every number the paper's record states (scaled: '130k' -> 130000)."""
    vals = {n.value for n in numbers_in(paper.text(), all_numbers=True)}
    return vals


MAX_ROUNDING = 0.05  # a shown number may round a reported one by at most 5 % of it


def matches(n: Number, allowed: Iterable[float]) -> bool:
    """Equal, or the same number rounded to the decimals the review shows, within 5 % of it.

    The 5 % bound keeps coarse spellings from matching a range: "0k" is not 300, "1k" is not 1400.
    """
    tol = 0.5 * 10 ** (-n.decimals) * n.scale
    for a in allowed:
        d = abs(n.value - a)
        if d <= 1e-9 * max(1.0, abs(a)) or (d <= tol + 1e-9 * max(1.0, abs(a)) and d <= MAX_ROUNDING * abs(a)):
            return True
    return False


BRACKET = re.compile(r"\[([^\[\]\n]{1,200})\](\()?")
URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+|\b(?:arxiv\.org|doi\.org|semanticscholar\.org)/\S+", re.IGNORECASE)
LOOKS_CITED = re.compile(r"^(?:[a-z][a-z0-9_-]*\d{2,4}[a-z]?|\d{1,3}|.*\b(?:19|20)\d\d[a-z]?)$")
AUTHOR_YEAR_FORMS = re.compile(
    r"\b([A-Z][A-Za-z'\u00C0-\u017F-]+)(?:\s+et\s+al\.?,?\s*\(?|\s+(?:and|&)\s+[A-Z][A-Za-z'\u00C0-\u017F-]+,?\s*\()"
    r"((?:19|20)\d\d)\)?")


def cited_ids(text: str) -> list[str]:
    """The [id] citations of a text, in order (parts of [a, b] split)."""
    out = []
    for m in CITE.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            if part:
                out.append(part)
    return out


def unknown_sources(text: str, papers: dict) -> list[str]:
    """Citations that do not resolve to a corpus paper: unknown [ids], bracketed author-year or
    numbered references, markdown links and URLs (the corpus is the only source), and
    'Author et al. (year)' / 'A and B (year)' that match no corpus paper."""
    bad = []
    for m in BRACKET.finditer(text):
        if m.group(2):  # [text](url): a link out of the corpus
            bad.append(f"[{m.group(1)}](...)")
            continue
        for part in re.split(r"\s*[,;]\s*", m.group(1).strip()):
            if part and part not in papers and LOOKS_CITED.match(part):
                bad.append(f"[{part}]")
    bad += [u.group(0)[:80] for u in URL.finditer(text)]
    first = {(p.first_author_surname.lower(), p.year) for p in papers.values()}
    words = {w.lower() for p in papers.values() for w in WORD.findall(p.title + " " + " ".join(p.short))}
    for m in AUTHOR_YEAR_FORMS.finditer(text):
        name = m.group(1).lower()
        if (name, int(m.group(2))) not in first and name not in words:
            bad.append(m.group(0))
    return list(dict.fromkeys(bad))


def sentences(text: str) -> list[str]:
    """Sentences, with headings, list items and table rows each on their own."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or set(line) <= set("|-: "):
            continue
        parts = re.split(r"(?<=[.!?])\s+(?=[\[(\"'A-Z0-9])", line)
        buf = ""
        for p in parts:
            buf = f"{buf} {p}".strip() if buf else p
            if ABBREV.search(buf):
                continue
            out.append(buf)
            buf = ""
        if buf:
            out.append(buf)
    return out


def _sentences_with_context(text: str) -> list[tuple[str, str | None]]:
    """Each sentence with the sentence before it in the same paragraph (None at a paragraph start)."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        prev = None
        for s in sentences(para):
            out.append((s, prev if not s.lstrip().startswith(("#", "|")) else None))
            prev = s
    return out


def _strip_markup(s: str) -> str:
    s = re.sub(r"^\s*(?:#+|[-*+]|\d+[.)])\s+", "", s)
    return re.sub(r"[*_`|>#]", " ", s)


@dataclasses.dataclass
class NumberCheck:
    sentence: str
    number: str
    papers: tuple[str, ...]
    ok: bool


@dataclasses.dataclass
class Inspection:
    words: int = 0
    prose_words: int = 0
    cited: list[str] = dataclasses.field(default_factory=list)
    unknown: list[str] = dataclasses.field(default_factory=list)
    covered: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    missing: list[str] = dataclasses.field(default_factory=list)
    numbers: list[NumberCheck] = dataclasses.field(default_factory=list)
    copy_ratio: float = 0.0
    injection: list[str] = dataclasses.field(default_factory=list)

    @property
    def verified(self) -> set[tuple[str, str]]:
        return {(",".join(c.papers), c.number) for c in self.numbers if c.ok}

    @property
    def wrong_numbers(self) -> list[NumberCheck]:
        return [c for c in self.numbers if not c.ok]

    def summary(self) -> dict:
        return {
            "words": self.words, "prose_words": self.prose_words, "cited_papers": len(set(self.cited)),
            "unknown_citations": self.unknown,
            "approaches_covered": sorted(self.covered), "approaches_missing": self.missing,
            "numbers_checked": len(self.numbers), "numbers_verified": len(self.verified),
            "numbers_wrong": [f"{c.number} ({', '.join(c.papers)})" for c in self.wrong_numbers],
            "copy_ratio": round(self.copy_ratio, 3), "injection": self.injection,
        }


@dataclasses.dataclass(frozen=True)
class _Names:
    short: dict[str, re.Pattern]
    titles: list[str]
    shingles: frozenset


_NAMES: _Names | None = None


def _names() -> _Names:
    global _NAMES
    if _NAMES is None:
        papers = corpus.load()
        short = {
            p.id: re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(s) for s in p.short) + r")(?![\w-])")
            for p in papers.values() if p.short
        }
        shingles = set()
        for p in papers.values():
            shingles |= _shingles(" ".join([p.summary, p.introduction]))
        _NAMES = _Names(short, sorted((p.title.lower() for p in papers.values()), key=len, reverse=True),
                        frozenset(shingles))
    return _NAMES


def _shingles(text: str) -> set[tuple[str, ...]]:
    w = [x.lower() for x in WORD.findall(text)]
    return {tuple(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}


def inspect(text: str | None, topic: str) -> Inspection:
    text = unicodedata.normalize("NFKC", text or "")  # full-width brackets and digits are brackets and digits
    papers = corpus.load()
    names = _names()
    ins = Inspection()
    ins.injection = [str(f) for f in screen(text, CRITERIA)]
    ins.words = len(WORD.findall(text))
    ins.cited = cited_ids(text)
    ins.unknown = unknown_sources(text, papers)
    known = [c for c in ins.cited if c in papers]
    for tag in TOPIC_INFO[topic]["approaches"]:
        ids = sorted({c for c in known if tag in papers[c].approaches})
        if ids:
            ins.covered[tag] = ids
        else:
            ins.missing.append(tag)
    allowed = {pid: paper_numbers(p) for pid, p in papers.items()}
    prose = 0
    for s, before in _sentences_with_context(text):
        ids = [c for c in dict.fromkeys(cited_ids(s)) if c in papers]
        bare = CITE.sub(" ", s)
        named = [pid for pid, rx in names.short.items() if rx.search(bare)]
        attributed = tuple(dict.fromkeys(ids + named))
        if not attributed and before is not None:  # "X [id] does Y. It reaches 18.3." : the paper of the sentence before
            b_bare = CITE.sub(" ", before)
            attributed = tuple(dict.fromkeys([c for c in cited_ids(before) if c in papers]
                                             + [pid for pid, rx in names.short.items() if rx.search(b_bare)]))
        # prose: the sentence's own words, without citations and paper titles
        plain = _strip_markup(bare).lower()
        for t in names.titles:
            if t in plain:
                plain = plain.replace(t, " ")
        n_words = len(WORD.findall(plain))
        if n_words >= 8:
            prose += n_words
        if not attributed:
            for n in numbers_in(bare):
                if n.has_unit or n.decimals:  # a specific result that no cited paper stands behind
                    ins.numbers.append(NumberCheck(s[:200], n.raw, (), False))
            continue
        pool = set().union(*(allowed[p] for p in attributed))
        for n in numbers_in(bare):
            ins.numbers.append(NumberCheck(s[:200], n.raw, attributed, matches(n, pool)))
    ins.prose_words = prose
    own = _shingles(CITE.sub(" ", text))
    ins.copy_ratio = len(own & names.shingles) / len(own) if own else 0.0
    return ins


def decide(ins: Inspection) -> tuple[str, str] | None:
    """(category, message) for the first failed check, or None: the judge decides the rest."""
    if ins.injection:
        return "judge_injection", "the review addresses the grader: " + "; ".join(ins.injection[:3])
    if ins.unknown:
        return "invented_paper", f"cites sources that are not in the corpus: {', '.join(ins.unknown[:6])}"
    if ins.copy_ratio > MAX_COPY:
        return "copied_corpus", f"{ins.copy_ratio:.0%} of its 8-word runs are copied from the corpus (limit {MAX_COPY:.0%})"
    if ins.words > MAX_WORDS:
        return "not_a_review", f"{ins.words} words; the limit is {MAX_WORDS}"
    if ins.prose_words < MIN_WORDS:
        return "not_a_review", (f"only {ins.prose_words} words of prose (sentences of 8+ words, without "
                                f"titles and citations); a review needs at least {MIN_WORDS}")
    if ins.wrong_numbers:
        c = ins.wrong_numbers[0]
        whose = f"attributed to {', '.join(c.papers)}" if c.papers else "not attributed to any cited paper"
        return "invented_number", (f"{len(ins.wrong_numbers)} number(s) do not match the cited papers' results, "
                                   f"e.g. {c.number} {whose}: {c.sentence!r}")
    if ins.missing:
        return "missing_approach", f"no cited paper covers: {', '.join(ins.missing)}"
    if len(ins.verified) < MIN_NUMBERS:
        return "no_numbers", (f"{len(ins.verified)} specific result(s) attributed to cited papers; at least "
                              f"{MIN_NUMBERS} are needed")
    return None
