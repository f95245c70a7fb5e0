"""The literature-review grader: the deterministic part (everything code can decide) and the judge step.

``inspect(text, topic)`` measures a review; ``decide`` turns the measurements into a failure
category, or None when the review may go to the judge; ``grade`` runs both parts for the task test.
The measuring functions (citations in every style, numbers in every form, copy similarity, words
in every script) are shared with ``tasks/idea_proposal``. Pure functions over strings, so they are
unit-tested directly; ``python -m tasks.literature_review.grader review.md --topic memory`` runs
the deterministic part on a draft.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterable

from pytest_rltask import fail
from pytest_rltask.judge import Criterion, Rubric, screen

from . import papers as corpus
from .task import TOPIC_INFO, TOPIC_ORDER

HERE = Path(__file__).resolve().parent
CRITERIA = ("coverage", "seminal_works", "synthesis")  # the judge rubric's criterion names (the screen knows them)
PASS_POINTS = 7.0  # of 10, and every criterion at least half its points (see README: why)
FLOOR = 0.5

MIN_WORDS, MAX_WORDS = 450, 3000  # prose words, total words
MAX_CHARS = 10 * MAX_WORDS  # the references run 7.5 characters a word; a cap that no honest review meets
MIN_NUMBERS = 5  # distinct (paper, number) pairs checked against the corpus
MAX_COPY = 0.20  # share of the review's content words in sentences that restate a known text
COPY_SENTENCE = 0.6  # a sentence restates a known one when this share of its stems is in one known sentence
SENTENCE_MIN_STEMS = 6

# -- words, in every script ---------------------------------------------------------------------
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")  # English words (prose measure, headings)
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f\uf900-\ufaff"
_ANY_WORD = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W\d_])+(?:['\u2019-](?:(?![{_CJK}])[^\W\d_])+)*")


def count_words(text: str) -> int:
    """Words in any script: a run of letters is a word, and so is every CJK or Thai character
    (scripts written without spaces), so padding in another script counts against the limit."""
    return len(_ANY_WORD.findall(text))


# -- stems (copy measure, metric words) ---------------------------------------------------------
STOP = frozenset("""a an and are as at be been being but by can could do does did for from has have had how in into
is it its more most not of on or our over such than that the their them then there these they this those through to
under use used uses using was we were what when where which while who will with within would without also each
other both only one two three its itself than per via versus vs it's paper papers work works show shows shown
report reports reported result results approach approaches method methods model models new""".split())
_SUFFIXES = ("izations", "ization", "ational", "ations", "ation", "nesses", "ness", "ments", "ment", "ities", "ity",
             "ings", "ing", "ies", "ied", "ers", "er", "est", "es", "ed", "ly", "s")


_LETTERS = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W\d_])+")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude stem: a common suffix off, then the first five letters ("simulated", "simulation" ->
    "simul"). Collisions only make the metric check more lenient and the copy check a bit stricter."""
    w = word.lower()
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            break
    return w[:5]


@functools.lru_cache(maxsize=65536)
def _suffix_off(word: str) -> str:
    w = word.lower()
    for suf in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


def copy_stems(text: str) -> set[str]:
    """The content words of a text with a suffix off: finer than ``stem``, for the copy measure."""
    return {_suffix_off(w) for w in _LETTERS.findall(text) if len(w) > 1 and w.lower() not in STOP}


def stems(text: str) -> list[str]:
    """Content-word stems of a text (stop words, one-letter words and numbers dropped; hyphenated
    words split), plus two pseudo-words: "size" where a text speaks of a model or its parameters,
    "cost" where it shows a currency."""
    out = [stem(w) for w in _LETTERS.findall(text) if len(w) > 1 and w.lower() not in STOP]
    if re.search(r"\b(?:models?|parameters?|params)\b", text, re.IGNORECASE):
        out.append("size")
    if re.search(r"[$\u20ac\u00a3]|\b(?:USD|dollars?)\b", text):
        out.append("cost")
    return out


# -- citations ----------------------------------------------------------------------------------
CITE = re.compile(r"\[([A-Za-z0-9_]+(?:\s*[,;]\s*[A-Za-z0-9_]+)*)\](?!\()")  # [id] and [id, id]
BRACKET = re.compile(r"\[([^\[\]\n]{1,200})\](\()?")
URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+|\b(?:arxiv\.org|doi\.org|semanticscholar\.org|openreview\.net)/\S+",
                 re.IGNORECASE)
LATEX_CITE = re.compile(r"\\(?:cite|citep|citet|citealp|parencite|textcite|autocite)\*?(?:\[[^\]]*\])*\{([^}]{1,300})\}")
PANDOC_CITE = re.compile(r"(?<![\w@.])@([A-Za-z][\w:.-]*\d[\w:.-]*)")
YEAR = r"(?:19|20)\d\d"
ID_SHAPED = re.compile(rf"^(?:[A-Za-z][\w-]*?[_-]?{YEAR}[a-z]?(?:[_-]?[A-Za-z]\w*)?|[A-Za-z]+[_-][A-Za-z0-9_-]+|"
                       rf"\d{{1,3}}(?:\s*[-\u2013]\s*\d{{1,3}})?)$")
BARE_ID = re.compile(rf"(?<![\w\[@/\\-])([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_{YEAR}[a-z]?|"
                     rf"[A-Z][a-z]+{YEAR}[a-z]*[A-Za-z]*)(?![\w\]-])")
_NAME = r"[A-Z][A-Za-z'\u00C0-\u024F-]+"
AUTHOR_YEAR = re.compile(
    rf"\b({_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+({_NAME}))?(?:,?\s*\(\s*({YEAR})[a-z]?\s*\)|,\s*({YEAR})[a-z]?\b)")
PAREN_AUTHOR_YEAR = re.compile(rf"\(\s*({_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+({_NAME}))?,?\s+({YEAR})[a-z]?\s*\)")


@dataclasses.dataclass(frozen=True)
class Mention:
    """A place in a text that points at corpus papers (or at something outside the corpus)."""

    start: int
    end: int
    ids: tuple[str, ...]  # corpus ids it resolves to
    unknown: tuple[str, ...] = ()  # what in it does not resolve


@functools.lru_cache(maxsize=None)
def _author_index() -> dict[str, list[corpus.Paper]]:
    out: dict[str, list[corpus.Paper]] = {}
    for p in corpus.load().values():
        out.setdefault(p.first_author_surname.lower(), []).append(p)
        if p.group_author and " " in p.authors[0]:  # "Octo Model Team et al., 2024": the last word is the name
            out.setdefault(p.authors[0].split()[-1].lower(), []).append(p)
    return out


@functools.lru_cache(maxsize=None)
def _name_words() -> frozenset[str]:
    """Capitalized words that are names of methods or title words, not authors ("Memory (2023)")."""
    ws = set()
    for p in corpus.load().values():
        ws |= {w.lower() for w in re.findall(r"[\w'-]+", p.title + " " + " ".join(p.short))}
    return frozenset(ws)


def _resolve_author(name: str, second: str | None, year: int) -> tuple[str, ...]:
    second_l = (second or "").lower()
    out = []
    for p in _author_index().get(name.lower(), []):
        if p.year != year:
            continue
        if second and not (len(p.authors) > 1 and p.authors[1].split()[-1].lower() == second_l):
            continue
        out.append(p.id)
    return tuple(out)


def _resolve_key(key: str, papers: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One citation key, any case or style: (ids, unknown)."""
    k = key.strip().strip("@").strip()
    if not k:
        return (), ()
    if k.lower() in papers:
        return (k.lower(),), ()
    m = re.fullmatch(rf"({_NAME})(?:\s+et\s+al\.?|\s+(?:and|&)\s+({_NAME}))?,?\s+({YEAR})[a-z]?", k)
    if m:
        ids = _resolve_author(m.group(1), m.group(2), int(m.group(3)))
        return (ids, ()) if ids else ((), (f"[{k}]",))
    if ID_SHAPED.match(k) or re.search(YEAR, k):
        return (), (f"[{k}]",)
    return (), ()


def mentions(text: str, papers: dict | None = None) -> list[Mention]:
    """Every citation-like mention: bracketed keys in any case or style, LaTeX and pandoc keys, bare
    id-shaped tokens, author-year forms, paper names (``MemGPT``), links and URLs, in text order."""
    papers = papers if papers is not None else corpus.load()
    out: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for m in BRACKET.finditer(text):
        if m.group(2):  # [text](url): a link out of the corpus
            out.append(Mention(m.start(), m.end(), (), (f"[{m.group(1)[:40]}](...)",)))
            taken.append((m.start(), m.end()))
            continue
        ids: list[str] = []
        bad: list[str] = []
        for part in re.split(r"\s*[,;]\s*(?![A-Za-z]+\s+et\b)(?!\s*(?:19|20)\d\d)", m.group(1).strip()):
            i, u = _resolve_key(part, papers)
            ids += i
            bad += u
        if ids or bad:
            out.append(Mention(m.start(), m.end(), tuple(dict.fromkeys(ids)), tuple(bad)))
            taken.append((m.start(), m.end()))
    for rx in (LATEX_CITE, PANDOC_CITE):
        for m in rx.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            keys = re.split(r"\s*[,;]\s*", m.group(1)) if rx is LATEX_CITE else [m.group(1)]
            ids, bad = [], []
            for key in keys:
                if key.lower() in papers:
                    ids.append(key.lower())
                elif key:
                    bad.append(f"{'@' if rx is PANDOC_CITE else chr(92) + 'cite'}{{{key}}}")
            out.append(Mention(m.start(), m.end(), tuple(ids), tuple(bad)))
            taken.append((m.start(), m.end()))

    def free(a: int, b: int) -> bool:
        return not any(s <= a < e or s < b <= e for s, e in taken)

    for m in BARE_ID.finditer(text):
        if not free(m.start(), m.end()):
            continue
        key = m.group(1)
        if key.lower() in papers:
            out.append(Mention(m.start(), m.end(), (key.lower(),)))
        else:
            out.append(Mention(m.start(), m.end(), (), (key,)))
        taken.append((m.start(), m.end()))
    names = _name_words()
    for rx in (PAREN_AUTHOR_YEAR, AUTHOR_YEAR):
        for m in rx.finditer(text):
            if not free(m.start(), m.end()):
                continue
            name, second = m.group(1), m.group(2)
            year = int(m.group(3) if rx is PAREN_AUTHOR_YEAR else (m.group(3) or m.group(4)))
            ids = _resolve_author(name, second, year)
            et_al_form = bool(second) or "et al" in m.group(0) or rx is PAREN_AUTHOR_YEAR
            if ids:
                out.append(Mention(m.start(), m.end(), ids))
            elif et_al_form or (name.lower() not in names and "(" in m.group(0)):
                out.append(Mention(m.start(), m.end(), (), (m.group(0).strip(),)))
            else:
                continue
            taken.append((m.start(), m.end()))
    for m in URL.finditer(text):
        if free(m.start(), m.end()):
            out.append(Mention(m.start(), m.end(), (), (m.group(0)[:80],)))
    rx, by_name = _short_names()
    for m in rx.finditer(text):
        if free(m.start(), m.end()):
            for pid in by_name[m.group(0)]:
                out.append(Mention(m.start(), m.end(), (pid,)))
    out.sort(key=lambda x: x.start)
    return out


@functools.lru_cache(maxsize=None)
def _short_names() -> tuple[re.Pattern, dict[str, list[str]]]:
    """One pattern for every paper's short names ("MemGPT", "RT-2"), and which papers each names."""
    by_name: dict[str, list[str]] = {}
    for p in corpus.load().values():
        for sname in p.short:
            by_name.setdefault(sname, []).append(p.id)
    alts = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    return re.compile(r"(?<![\w-])(?:" + alts + r")(?![\w-])"), by_name


def cited_ids(text: str) -> list[str]:
    """The corpus papers a text cites (any citation style; paper names not counted), in order."""
    return [i for m in mentions(text) if not _is_name(m, text) for i in m.ids]


def _is_name(m: Mention, text: str) -> bool:
    return not m.unknown and len(m.ids) == 1 and not text[m.start:m.end].lstrip().startswith(("[", "\\", "@")) \
        and not re.search(YEAR, text[m.start:m.end])


def unknown_sources(text: str, papers: dict | None = None) -> list[str]:
    """Citations that do not resolve to a corpus paper, in any style (the corpus is the only source)."""
    return list(dict.fromkeys(u for m in mentions(text, papers) for u in m.unknown))


# -- numbers ------------------------------------------------------------------------------------
_UNIT = (r"\s?%|\s?(?:per\s?cent|percent)\b|\s?(?:percentage\s+points?|pp|points?|pts?)\b|"
         r"\s?(?:x|\u00d7)(?![a-wyz])|[\s-]?(?:times|fold)\b|\s?(?:k|K|M|B|T)\b|\s(?:thousand|million|billion|trillion)\b")
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(" + _UNIT + r")?")
SCALE = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, "thousand": 1e3, "million": 1e6, "billion": 1e9,
         "trillion": 1e12}
_ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                    "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_NUMWORD = "|".join(sorted(list(_ONES) + list(_TENS) + ["hundred", "a"], key=len, reverse=True))
SPELLED = re.compile(
    rf"\b((?:(?:{_NUMWORD})[\s-]+){{0,4}}(?:{'|'.join(list(_ONES) + list(_TENS) + ['hundred'])}))"
    r"(?:[\s-]+(percent|per cent|percentage points?|points?|times|fold))\b|"
    r"\b(twofold|threefold|fourfold|fivefold|sixfold|sevenfold|eightfold|ninefold|tenfold|hundredfold)\b|"
    r"\b(doubl(?:es|ed|ing)|tripl(?:es|ed|ing)|quadrupl(?:es|ed|ing)|halv(?:es|ed|ing))\b", re.IGNORECASE)
_FOLD = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "hundred": 100}
_VERB_X = {"doubl": 2, "tripl": 3, "quadrupl": 4, "halv": 0.5}
_SMALL_BEFORE = frozenset("of to at reaches reached reach achieves achieved achieve scores scored score gets got "
                          "is was are were from by only just about nearly roughly around hits hit attains".split())
_SMALL_AFTER = frozenset("on in at vs versus against compared over for with and".split())


@dataclasses.dataclass(frozen=True)
class Number:
    raw: str
    value: float
    decimals: int
    has_unit: bool
    scale: float = 1.0
    unit: str | None = None  # "%", "x", "pt" (points) or None (a bare or scaled quantity)
    start: int = 0


def _unit_class(u: str) -> str | None:
    u = u.strip().lower()
    if not u:
        return None
    if u in ("%", "percent", "per cent", "percentcent") or u.replace(" ", "") in ("percent", "percent"):
        return "%"
    if u in ("x", "\u00d7", "times", "fold", "-fold", "-times") or u.endswith(("times", "fold")):
        return "x"
    if "point" in u or u in ("pp", "pt", "pts"):
        return "pt"
    return None


def _words_value(words: str) -> float | None:
    total, cur = 0, 0
    for w in re.split(r"[\s-]+", words.lower()):
        if w == "a":
            cur = max(cur, 1)
        elif w in _ONES:
            cur += _ONES[w]
        elif w in _TENS:
            cur += _TENS[w]
        elif w == "hundred":
            cur = max(cur, 1) * 100
        else:
            return None
    return float(total + cur)


def numbers_in(text: str, *, all_numbers: bool = False) -> list[Number]:
    """Numbers in a text, in every form: digits with units (%, percent, points, x, times, fold, k, M,
    B), spelled out with a unit ("seven times", "forty percent", "twofold", "doubles"), and bare.
    Numbers inside names (GPT-3, RT-2, T5) are skipped. Unless ``all_numbers``, so are years and
    small bare integers that count things ("3 seeds"); a small integer given as a result ("reaches
    9 on MT-Bench") is kept."""
    out = []
    for m in NUMBER.finditer(text):
        start = m.start()
        prev = text[start - 1] if start else " "
        prev2 = text[start - 2] if start > 1 else " "
        if prev.isalpha() or (prev == "-" and prev2.isalnum()):
            continue  # part of a name: GPT-3, RT-2, Llama-2, CW10
        unit = (m.group(2) or "").strip()
        nxt = text[m.end(1):m.end(1) + 1]
        if not unit and (nxt.isalpha() or (not all_numbers and nxt == "-" and text[m.end(1) + 1:m.end(1) + 2].isalpha())):
            continue  # 3D, 2nd, 7th, 10-shot
        num = m.group(1)
        value = float(num.replace(",", ""))
        decimals = len(num.split(".")[1]) if "." in num else 0
        scale = SCALE.get(unit, 1.0)
        ucls = _unit_class(unit) if unit not in SCALE else None
        if not all_numbers and not unit and decimals == 0:
            if 1950 <= value <= 2035 and "," not in num:
                continue
            if value <= 10:
                before = re.findall(r"[A-Za-z]+", text[max(0, start - 24):start])
                after = re.match(r"\s*([A-Za-z]+|[^\w\s]|$)", text[m.end():m.end() + 20])
                a = after.group(1).lower() if after else ""
                if not (before and before[-1].lower() in _SMALL_BEFORE and (not a.isalpha() or a in _SMALL_AFTER)):
                    continue
        out.append(Number(m.group(0).strip(), value * scale, decimals, bool(unit), scale, ucls, start))
    for m in SPELLED.finditer(text):
        if m.group(1):
            v = _words_value(m.group(1))
            if v is None:
                continue
            out.append(Number(m.group(0), v, 0, True, 1.0, _unit_class(m.group(2)), m.start()))
        elif m.group(3):
            out.append(Number(m.group(0), float(_FOLD[m.group(3).lower()[:-4]]), 0, True, 1.0, "x", m.start()))
        else:
            v = _VERB_X[re.sub(r"(es|ed|ing)$", "", m.group(4).lower())]
            out.append(Number(m.group(0), v, 1 if v < 1 else 0, True, 1.0, "x", m.start()))
    out.sort(key=lambda n: n.start)
    return out


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


@dataclasses.dataclass(frozen=True)
class Entry:
    """One reported result: its numbers (value and setting) and the words of its metric and setting."""

    paper: str
    label: str
    numbers: tuple[Number, ...]
    words: frozenset[str]


GENERIC = frozenset(stems("reach reaches reaching gets achieves improves improvement better higher lower score "
                          "scores performance set sets state art baseline baselines compared against versus up "
                          "about around roughly nearly over under"))


@functools.lru_cache(maxsize=None)
def entries(pid: str) -> tuple[Entry, ...]:
    p = corpus.load()[pid]
    own = {stem(w) for w in _LETTERS.findall(" ".join(p.authors[1:] if p.group_author else p.authors))}
    out = []
    for r in p.results:
        text = f"{r.get('value', '')} {r.get('setting', '')}"
        words = frozenset(stems(f"{r.get('metric', '')} {r.get('setting', '')}")) - own - GENERIC
        out.append(Entry(pid, f"{r.get('metric', '')}: {r['value']}", tuple(numbers_in(text, all_numbers=True)),
                         words))
    return tuple(out)


def paper_numbers(paper: corpus.Paper) -> set[float]:
    """Every number the paper's results state (scaled: '130k' -> 130000)."""
    return {n.value for e in entries(paper.id) for n in e.numbers}


def _unit_ok(n: Number, v: Number) -> bool:
    if n.unit is None or v.unit is None:
        return True
    return n.unit == v.unit


def match_entry(n: Number, clause_words: set[str], pids: Iterable[str]) -> Entry | None:
    """The result entry of one of these papers that this number states: same value (to the
    rounding shown), units agreeing, and a word of its metric or setting in the number's clause.
    A difference in points between two results of one entry's metric counts too."""
    if n.scale >= 1e9:  # "the 7B OpenVLA": billions here are model sizes
        clause_words = clause_words | {"size"}
    for pid in pids:
        for e in entries(pid):
            if not (e.words & clause_words):
                continue
            if any(_unit_ok(n, v) and matches(n, {v.value}) for v in e.numbers):
                return e
        if n.unit == "pt":  # "4.1 points better": the difference of two results of the paper
            es = [e for e in entries(pid) if e.words & clause_words]
            vals = [v.value for e in entries(pid) for v in e.numbers if v.unit in (None, "%")]
            if es and any(matches(n, {abs(a - b)}) for i, a in enumerate(vals) for b in vals[i + 1:]):
                return es[0]
    return None


# -- sentences and clauses ----------------------------------------------------------------------
ABBREV = re.compile(r"\b(?:et al|e\.g|i\.e|vs|cf|Fig|Eq|Sec|approx|resp|al)\.$")
CLAUSE_CUT = re.compile(r";|,\s+(?=(?:and|but|while|whereas|and then|which|compared|versus)\b)|\s+(?:whereas|while)\s+|"
                        r"\s+\u2014\s+|\s+-\s+|:\s+")


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


def _cut(s: str) -> list[tuple[int, int]]:
    """Clause spans of a sentence."""
    spans, last = [], 0
    for m in CLAUSE_CUT.finditer(s):
        spans.append((last, m.start()))
        last = m.end()
    spans.append((last, len(s)))
    return [(a, b) for a, b in spans if b > a]


@dataclasses.dataclass
class NumberCheck:
    sentence: str
    number: str
    papers: tuple[str, ...]
    ok: bool
    entry: str = ""  # the result entry it matched
    how: str = ""  # where its papers came from: clause, sentence, nearest, before (the sentence before)

    def __str__(self) -> str:
        return f"{self.number} -> {', '.join(self.papers) or 'no paper'}: {self.entry or 'no matching result'}"


def check_numbers(text: str) -> list[NumberCheck]:
    """Every checked number of a text, each tied to the papers cited or named in its own clause (else,
    when the sentence points at one set of papers only, that set; else the nearest citation in the
    sentence; else, for a sentence citing nothing, the single set of the sentence before), and to a
    result entry of those papers with the same value, agreeing units and a metric word in the clause."""
    papers = corpus.load()
    out: list[NumberCheck] = []
    for s, before in _sentences_with_context(text):
        ms = [m for m in mentions(s, papers) if m.ids]
        nums = [n for n in numbers_in(_blank(s, ms)) if n.raw]
        if not nums:
            continue
        sets = list(dict.fromkeys(m.ids for m in ms))
        spans = _cut(s)
        prev_sets = list(dict.fromkeys(m.ids for m in mentions(before, papers) if m.ids)) if before else []
        for n in nums:
            a, b = next(((a, b) for a, b in spans if a <= n.start < b), (0, len(s)))
            own = [m for m in ms if a <= m.start < b]
            if own:
                pids, how = tuple(dict.fromkeys(i for m in own for i in m.ids)), "clause"
            elif len(sets) == 1:
                pids, how = sets[0], "sentence"
            elif sets:
                after = [m for m in ms if m.start > n.start]
                pids, how = (after[0] if after else ms[-1]).ids, "nearest"
            elif len(prev_sets) == 1:
                pids, how = prev_sets[0], "before"
            else:
                pids, how = (), ""
            clause = set(stems(_blank(s, ms, names=True)[a:b]))
            if not pids:
                if n.has_unit or n.decimals:  # a specific result that no cited paper stands behind
                    out.append(NumberCheck(s[:200], n.raw, (), False, "", ""))
                continue
            e = match_entry(n, clause, pids)
            if e is None and len(clause) < 4:  # a short clause ("and 59.1% for BM25"): the sentence's words
                e = match_entry(n, set(stems(_blank(s, ms, names=True))), pids)
            out.append(NumberCheck(s[:200], n.raw, pids, e is not None, e.label if e else "", how))
    return out


def _blank(s: str, ms: list[Mention], names: bool = False) -> str:
    """The sentence with its citation mentions (and with ``names``, paper names) blanked, same length."""
    out = list(s)
    for m in ms:
        if names or s[m.start:m.end].startswith(("[", "\\", "@", "(")) or re.search(YEAR, s[m.start:m.end]):
            out[m.start:m.end] = " " * (m.end - m.start)
    return "".join(out)


# -- copying ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CopyPool:
    """Known sentences (as stem sets) with an inverted index, to find the one a sentence restates."""

    sets: tuple[frozenset[str], ...]
    index: dict[str, tuple[int, ...]]
    where: tuple[str, ...]

    @classmethod
    def build(cls, texts: Iterable[tuple[str, str]]) -> "CopyPool":
        sets, where, idx = [], [], {}
        for name, text in texts:
            for x in sentences(CITE.sub(" ", text)):
                st = copy_stems(_strip_markup(x))
                if len(st) >= 3:
                    sets.append(frozenset(st))
                    where.append(name)
        for i, st in enumerate(sets):
            for w in st:
                idx.setdefault(w, []).append(i)
        return cls(tuple(sets), {w: tuple(v) for w, v in idx.items()}, tuple(where))

    def best(self, st: set[str]) -> tuple[float, str]:
        counts: dict[int, int] = {}
        for w in st:
            for i in self.index.get(w, ()):
                counts[i] = counts.get(i, 0) + 1
        if not counts:
            return 0.0, ""
        i = max(counts, key=lambda j: (counts[j], -len(self.sets[j])))
        return counts[i] / len(st), self.where[i]


def copy_ratio(text: str, pool: CopyPool) -> tuple[float, list[str]]:
    """Share of the text's content words in sentences that restate a known sentence (after stemming,
    stop words dropped, order ignored: a light paraphrase or a reordering is still a copy), and where
    the copied sentences come from."""
    total = copied = 0
    sources: dict[str, int] = {}
    for s in sentences(CITE.sub(" ", text)):
        plain = _strip_markup(s).lower()
        for t in _titles():  # naming a paper by its title is not copying
            if t in plain:
                plain = plain.replace(t, " ")
        st = copy_stems(plain)
        if len(st) < SENTENCE_MIN_STEMS:
            continue
        total += len(st)
        share, src = pool.best(st)
        if share >= COPY_SENTENCE:
            copied += len(st)
            sources[src] = sources.get(src, 0) + 1
    return (copied / total if total else 0.0), sorted(sources, key=lambda k: -sources[k])


def corpus_texts() -> list[tuple[str, str]]:
    """What the corpus tools show: TL;DRs, introductions and result settings."""
    out = []
    for p in corpus.load().values():
        out.append((f"corpus:{p.id}", p.summary + "\n" + p.introduction))
        out.append((f"corpus:{p.id}:results", "\n".join(f"{r.get('metric', '')}, {r.get('setting', '')}."
                                                        for r in p.results)))
    return out


@functools.lru_cache(maxsize=None)
def copy_pool() -> CopyPool:
    """The texts a literature review is compared with: everything any task of this repo hands an
    agent about these papers (the corpus, and the reading notes tasks/idea_proposal hands out)."""
    return CopyPool.build(corpus_texts() + [(f"notes:{t}", corpus.reading_notes(t)) for t in TOPIC_ORDER])


# -- the inspection -----------------------------------------------------------------------------
@dataclasses.dataclass
class Inspection:
    words: int = 0
    chars: int = 0
    prose_words: int = 0
    cited: list[str] = dataclasses.field(default_factory=list)
    unknown: list[str] = dataclasses.field(default_factory=list)
    covered: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    missing: list[str] = dataclasses.field(default_factory=list)
    numbers: list[NumberCheck] = dataclasses.field(default_factory=list)
    copy_ratio: float = 0.0
    copy_sources: list[str] = dataclasses.field(default_factory=list)
    injection: list[str] = dataclasses.field(default_factory=list)

    @property
    def verified(self) -> set[tuple[str, str]]:
        return {(",".join(c.papers), c.number) for c in self.numbers if c.ok}

    @property
    def wrong_numbers(self) -> list[NumberCheck]:
        return [c for c in self.numbers if not c.ok]

    def summary(self) -> dict:
        return {
            "words": self.words, "chars": self.chars, "prose_words": self.prose_words,
            "cited_papers": len(set(self.cited)), "unknown_citations": self.unknown,
            "approaches_covered": sorted(self.covered), "approaches_missing": self.missing,
            "numbers_checked": len(self.numbers), "numbers_verified": len(self.verified),
            "numbers_wrong": [str(c) for c in self.wrong_numbers],
            "copy_ratio": round(self.copy_ratio, 3), "copy_sources": self.copy_sources[:5],
            "injection": self.injection,
        }


@functools.lru_cache(maxsize=None)
def _titles() -> list[str]:
    return sorted((p.title.lower() for p in corpus.load().values()), key=len, reverse=True)


def inspect(text: str | None, topic: str) -> Inspection:
    """Everything the deterministic part measures (cached per text: tests and items share it; do
    not mutate the result)."""
    return _inspect(text or "", topic)


@functools.lru_cache(maxsize=128)
def _inspect(text: str, topic: str) -> Inspection:
    text = unicodedata.normalize("NFKC", text)  # full-width brackets and digits are brackets and digits
    papers = corpus.load()
    ins = Inspection()
    ins.injection = [str(f) for f in screen(text, CRITERIA)]
    ins.words = count_words(text)
    ins.chars = len(text)
    if ins.chars > 4 * MAX_CHARS:  # nothing more is measured on a text this size (and it stays linear)
        return ins
    ins.cited = cited_ids(text)
    ins.unknown = unknown_sources(text, papers)
    known = set(ins.cited)
    for tag in TOPIC_INFO[topic]["approaches"]:
        ids = sorted(c for c in known if tag in papers[c].approaches)
        if ids:
            ins.covered[tag] = ids
        else:
            ins.missing.append(tag)
    prose = 0
    for s, _ in _sentences_with_context(text):
        plain = _strip_markup(CITE.sub(" ", s)).lower()
        for t in _titles():
            if t in plain:
                plain = plain.replace(t, " ")
        n_words = len(WORD.findall(plain))
        if n_words >= 8:
            prose += n_words
    ins.prose_words = prose
    ins.numbers = check_numbers(text)
    ins.copy_ratio, ins.copy_sources = copy_ratio(text, copy_pool())
    return ins


def decide(ins: Inspection) -> tuple[str, str] | None:
    """(category, message) for the first failed check, or None: the judge decides the rest."""
    if ins.injection:
        return "judge_injection", "the review addresses the grader: " + "; ".join(ins.injection[:3])
    if ins.words > MAX_WORDS or ins.chars > MAX_CHARS:
        return "not_a_review", (f"{ins.words} words and {ins.chars} characters; the limits are {MAX_WORDS} words "
                                f"and {MAX_CHARS} characters")
    if ins.unknown:
        return "invented_paper", f"cites sources that are not in the corpus: {', '.join(ins.unknown[:6])}"
    if ins.copy_ratio > MAX_COPY:
        return "copied_corpus", (f"{ins.copy_ratio:.0%} of its content words are in sentences that restate known "
                                 f"texts ({', '.join(ins.copy_sources[:3])}; limit {MAX_COPY:.0%})")
    if ins.prose_words < MIN_WORDS:
        return "not_a_review", (f"only {ins.prose_words} words of prose (sentences of 8+ words, without "
                                f"titles and citations); a review needs at least {MIN_WORDS}")
    if ins.wrong_numbers:
        c = ins.wrong_numbers[0]
        whose = f"attributed to {', '.join(c.papers)}" if c.papers else "not attributed to any cited paper"
        return "invented_number", (f"{len(ins.wrong_numbers)} number(s) do not match a result of the paper cited "
                                   f"with them (value, unit and metric), e.g. {c.number} {whose}: {c.sentence!r}")
    if ins.missing:
        return "missing_approach", f"no cited paper covers: {', '.join(ins.missing)}"
    if len(ins.verified) < MIN_NUMBERS:
        return "no_numbers", (f"{len(ins.verified)} specific result(s) attributed to cited papers; at least "
                              f"{MIN_NUMBERS} are needed")
    return None


# -- the judge step -----------------------------------------------------------------------------
def rubric(topic: str, ins: Inspection | None = None) -> Rubric:
    """The write-up's 10-point rubric, with the topic's approaches and seminal results as notes, and
    exactly what code verified in this review (and what it did not)."""
    info = TOPIC_INFO[topic]
    papers = corpus.load()
    seminal = "\n".join(
        f"- [{pid}] {papers[pid].title} ({papers[pid].cite}): "
        + "; ".join(f"{r.get('metric', '')} {r['value']}" for r in papers[pid].results[:3])
        for pid in info["seminal"] if pid in papers
    )
    approaches = "\n".join(f"- {tag}: {desc}" for tag, desc in info["approaches"].items())
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
        notes=(f"Topic: {info['title']}.\nRequired approaches:\n{approaches}\n\nSeminal works and their key results "
               f"(from the corpus):\n{seminal}\n\n" + (verified_note(ins) if ins is not None else "")),
    )


def verified_note(ins: Inspection) -> str:
    """What code checked in this review, exactly, and what it left to the judge."""
    ok = [c for c in ins.numbers if c.ok]
    listed = "\n".join(f"- {c}" for c in ok[:40]) or "- (none)"
    return (
        f"What code verified in this review (nothing more):\n"
        f"- citations: {len(set(ins.cited))} corpus papers are cited; every citation-shaped reference (bracketed "
        f"ids in any case or style, LaTeX/pandoc keys, author-year mentions, links) resolves to a corpus paper.\n"
        f"- approaches: each required approach has at least one cited paper tagged with it in the corpus "
        f"({', '.join(sorted(ins.covered))}). Whether the review discusses it in substance was not checked.\n"
        f"- numbers: {len(ok)} numbers were each found among the reported results of the paper cited or named in "
        f"their clause, with the same value (to the rounding shown), agreeing units and a word of the result's "
        f"metric in the clause:\n{listed}\n"
        f"  Not checked: counts and years, and whether the claim around a number says what the paper found.\n"
        f"- copying: {ins.copy_ratio:.0%} of its content words are in sentences that restate a corpus text "
        f"(limit {MAX_COPY:.0%}); close paraphrase below that was not measured.\n"
        f"- size: {ins.words} words, {ins.prose_words} words of prose.\n"
        "Not checked by code: whether each paper is characterized correctly, whether it is the right paper for "
        "the claim, depth, organization and synthesis. That is yours to judge."
    )


def passes(verdict: Any) -> tuple[bool, str]:
    """Pass at PASS_POINTS of 10 with no criterion under FLOOR of its points: a review that fails one
    criterion the task is about (no synthesis, no seminal works) cannot pass on the others."""
    low = [s for s in verdict.scores if s.score < FLOOR * s.points or s.verdict == "not_met"]
    if verdict.points < PASS_POINTS:
        return False, f"judge gave {verdict.points:g}/10 (pass at {PASS_POINTS:g})"
    if low:
        return False, "judge scored " + ", ".join(f"{s.criterion} {s.score:g}/{s.points:g}" for s in low) + \
            f" (each criterion needs at least {FLOOR:.0%} of its points and not 'not_met')"
    return True, ""


def grade(review: str | None, seed: int, judge: Any, rollout: Any = None) -> Any:
    """The whole grader: screen, deterministic checks, then the judge; raises a failure with its category."""
    topic = TOPIC_ORDER[(seed - 1) % len(TOPIC_ORDER)]
    review = review or ""
    judge.screen(review, "review", rubric(topic))
    ins = inspect(review, topic)
    summary = ins.summary()
    if rollout is not None:
        rollout.score("cited_papers", summary["cited_papers"])
        rollout.score("numbers_verified", summary["numbers_verified"])
        rollout.transcript.event("deterministic_checks", topic=topic, **summary)
    bad = decide(ins)
    if bad is not None:
        fail(*bad)
    verdict = judge.grade(review, rubric(topic, ins), what="review")
    if rollout is not None:
        rollout.score("judge_points", verdict.points)
    ok, why = passes(verdict)
    if not ok:
        reasons = "; ".join(f"{s.criterion} {s.score:g}/{s.points:g}: {s.reason[:120]}" for s in verdict.scores)
        fail("low_judge_score", f"{why}: {reasons}")
    return verdict


def main(argv: list[str] | None = None) -> int:
    """Run the deterministic part on a draft: what it measured, and the first failing check."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("review", type=Path)
    ap.add_argument("--topic", choices=TOPIC_ORDER, required=True)
    ap.add_argument("--verbose", action="store_true", help="list every checked number")
    a = ap.parse_args(argv)
    ins = inspect(a.review.read_text(encoding="utf-8"), a.topic)
    print(json.dumps(ins.summary(), indent=1))
    if a.verbose:
        for c in ins.numbers:
            print(f"{'ok ' if c.ok else 'BAD'} {c}  | {c.sentence[:100]}")
    verdict = decide(ins)
    if verdict is None:
        print("deterministic part: passed")
        return 0
    print(f"deterministic part: FAILED [{verdict[0]}] {verdict[1]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
