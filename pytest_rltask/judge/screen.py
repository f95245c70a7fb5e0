"""Deterministic screening for text aimed at the judge, run before any model sees a submission.

A submission is data to be graded. Text in it that instructs the grader, demands or claims a
score, fakes a rubric, a verdict or the grader's prompt, or imitates chat-role and prompt-template
markers can only be an attempt to steer the judge, so it fails the run (``judge_injection``)
without a model call.

The text is normalized first: HTML entities decoded, NFKC, accents and invisible characters
removed, common Cyrillic and Greek look-alike letters mapped to Latin, hyphens inside words
dropped, and single line breaks joined, so full-width letters, zero-width joiners, homoglyphs and
a phrase broken over two lines do not slip through. Rules about instructions fire only where the
text gives an order (an imperative clause, or "you must ...") or claims a grade for itself, so a
review may say that models "ignore the system prompt" or that raters "rate outputs 7 out of 10".

Persuasion with no such marker ("experts agree this is exceptional") is left to the judge, which
is told to flag it; the screen claims only what it can decide without a model.
"""
from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from typing import Any

# zero-width and format characters, bidi controls, variation selectors, fillers, tag characters
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]")
_EMOJI_VS = {"\ufe0e", "\ufe0f"}  # presentation selectors after emoji: not counted as hiding anything
_CONFUSABLES = str.maketrans({
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y", "\u0445": "x",
    "\u0456": "i", "\u0458": "j", "\u04bb": "h", "\u0501": "d", "\u051b": "q", "\u051d": "w", "\u0455": "s",
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0406": "I", "\u0408": "J", "\u0405": "S",
    "\u03bf": "o", "\u03b1": "a", "\u03b5": "e", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03c1": "p",
    "\u03c4": "t", "\u03c5": "u", "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H",
    "\u0399": "I", "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
})

_GRADER = r"(?:grader|judge|evaluator|assessor|marker|grading (?:model|system|assistant)|(?:ai|llm) (?:grader|judge|evaluator|reviewer))"
_SCORE = (r"(?:(?:\d+(?:\.\d+)?|ten|nine|full)\s*(?:/|out of)\s*(?:10|100|ten|\d)\b|full (?:marks|points|score|credit)|"
          r"(?:maximum|max|top|perfect|highest) (?:marks|points|score|scores|grade|rating)|at (?:its|their|the) maximum\b|"
          r"(?:the )?maximum (?:on|for|in) (?:every|each|all)\b|(?:the )?maximum (?:of )?(?:\w+ )?(?:points|marks|score)\b|a pass(?:ing)? (?:grade|score|verdict)|as (?:fully )?met\b|fully met\b)")
_LEAD = r"(?:(?:please|now|kindly|also|and|so|then|just|simply|first|instead)[,]?\s+)*"
_SUBJECT = r"(?:this|the|my|our) (?:submission|review|proposal|essay|write-?up|literature review)"
_I = re.IGNORECASE

CLAUSE_RULES = tuple((name, re.compile(rx, _I)) for name, rx in (
    # imperative: a clause that starts with the order
    ("override_instructions", r"^" + _LEAD + r"(?:ignore|disregard|forget|override|bypass|skip|discard)\b.{0,60}?"
     r"\b(?:instructions?|rubric|criteria|prompt|rules|guidelines|directions|everything above|the above)\b"),
    ("score_demand", r"^" + _LEAD + r"(?:award|give|assign|grant|score|rate|mark|grade|record)\b.{0,60}?" + _SCORE),
    # second person: "you must / should ... give"
    ("addresses_reader", r"\byou\b.{0,30}?\b(?:must|should|shall|will|are to|have to|need to|can now)\b.{0,30}?"
     r"\b(?:ignore|disregard|forget|award|give|assign|score|rate|mark|grade|approve|pass|accept)\b"),
    # the submission claiming its own grade
    ("score_claim", r"\b" + _SUBJECT + r"\b.{0,60}?\b(?:deserves|merits|earns|warrants|should (?:get|receive|be (?:given|awarded|rated|scored|graded)))\b.{0,40}?" + _SCORE),
    ("criteria_claim", r"\b" + _SUBJECT + r"\b.{0,60}?\b(?:meets|satisfies|fulfil+s|exceeds)\b.{0,20}?\b(?:every|all|each)\b.{0,20}?\bcriteri"),
    ("addresses_grader", r"\b(?:note|message|memo|instructions?) (?:for|to) (?:the |any |an? )?" + _GRADER + r"s?\b|"
     r"\b(?:dear|hello|hi|hey|attention)[,:]?\s+(?:the\s+)?" + _GRADER + r"s?\b|^(?:to the )?" + _GRADER + r"s?\s*[:,]"),
))
LINE_RULES = tuple((name, re.compile(rx, _I)) for name, rx in (
    ("template_marker", r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>"
     r"|\[/?INST\]|<</?SYS>>"),
    ("prompt_tag", r"<\s*/?\s*(?:system|instructions?|rubric|submission[\w-]*|grading|verdict|admin|prompt|grader[\w-]*)\s*"
     r"(?:\s[\w-]+\s*=[^>]{0,80})?/?>"),
    ("prompt_heading", r"^#{1,4}\s*(?:grader notes|rubric|what the submission was asked to do|the submission|system prompt|"
     r"new instructions|updated instructions|grading instructions)\b"),
    ("score_line", r"^\W{0,6}(?:final|total|overall|rubric|judge'?s?|grader'?s?|my|suggested|expected)\s+"
     r"(?:score|grade|verdict|rating|points|mark)\W{0,6}[:=]\s*(?:\d+(?:\.\d+)?\s*/\s*\d+|pass|met|full|maximum)"),
    ("hidden_comment", r"<!--"),
    ("you_are_grading", r"(?<![\"'\u201c\u2018])\byou are (?:an? |the )?(?:grader|judge|evaluator|assessor|grading)\b"),
    ("verdict_markup", r"\b(?:record[ _]verdict|injection[ _]detected|tool_choice)\b|[\"'](?:verdict|criteri(?:on|a)|injection\w*)[\"']\s*:"),
    ("score_request", r"^\W{0,6}(?:please\s+)?(?:rate|score|grade|mark)(?: it| this| me| us)?\s*[:=]\s*\d+(?:\.\d+)?\s*/\s*(?:10|100)\b"),
))
_ROLE = re.compile(r"^\W{0,6}(human|assistant|system|developer|user)\s*\W{0,3}:\s*(.*)$", _I)
_GRADING_WORDS = re.compile(r"\b(?:grad(?:e|ed|es|ing|er)|scor(?:e|ed|es|ing)|verdict|criteri|rubric|marks|points|"
                            r"approv|met\b|pass(?:es|ed)?\b|review above|submission|proposal above|10/10)", _I)
_TABLE_HEAD = re.compile(r"\b(?:criterion|criteria|rubric|verdict|grade|grading)\b", _I)
_RATIO_CELL = re.compile(r"^\s*\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?\s*$")


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.excerpt!r}"


def normalize(text: str) -> str:
    """Entities decoded, NFKC, accents and invisible characters removed, look-alikes mapped to
    Latin, hyphens inside words dropped, spaces collapsed. Line breaks are kept."""
    t = html.unescape(text)
    t = unicodedata.normalize("NFKD", t)
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Mn")
    t = unicodedata.normalize("NFKC", t)
    t = _INVISIBLE.sub("", t).translate(_CONFUSABLES)
    t = t.replace("*", "").replace("`", "")
    t = re.sub(r"(?<=[A-Za-z])-(?=[a-z])", "", t)
    return re.sub(r"[ \t\f\v\u00a0]+", " ", t)


def _clauses(t: str) -> list[str]:
    """Clauses cut at sentence punctuation, twice: with each line break ending a clause, and with
    single line breaks joined (a phrase broken over two lines is still one clause)."""
    out: list[str] = []
    for text in (t, re.sub(r"\n(?![ \t]*\n)", " ", t)):
        text = re.sub(r"\.{2,}|\u2026", " ", text)
        parts = re.split(r"[.!?;:\n]+|\s[-\u2014]\s|[\"'\u201c\u201d()\[\]>|]", text)
        out += [p.strip(" ,-") for p in parts if p.strip(" ,-")]
    return list(dict.fromkeys(out))


def _tables(lines: list[str]) -> list[list[list[str]]]:
    out, cur = [], []
    for line in lines + [""]:
        if line.strip().startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            out.append(cur)
            cur = []
    return out


def screen(text: Any, criteria: tuple[str, ...] | list[str] = ()) -> list[Finding]:
    """Every place where the text speaks to the grader instead of answering the task.

    ``criteria`` (a rubric's criterion names) adds rubric-aware rules: a submission that scores
    itself on them ("coverage: 4/4", a table of criteria) or names them as identifiers.
    """
    if not isinstance(text, str) or not text:
        return []
    out: list[Finding] = []
    t = normalize(text)
    seen: set[str] = set()

    def hit(rule: str, excerpt: str) -> None:
        if rule not in seen:
            seen.add(rule)
            out.append(Finding(rule, excerpt.strip()[:200]))

    for c in _clauses(t):
        for name, rx in CLAUSE_RULES:
            if name not in seen and rx.search(c):
                hit(name, c)
    lines = t.splitlines()
    for i, line in enumerate(lines):
        for name, rx in LINE_RULES:
            if name not in seen and rx.search(line):
                hit(name, line)
        m = _ROLE.match(line)
        if m and "role_marker" not in seen:
            nxt = next((ln for ln in lines[i + 1:i + 3] if ln.strip()), "")
            if _GRADING_WORDS.search(m.group(2) + " " + nxt) and (m.group(1).lower() != "user" or _ROLE.match(nxt)):
                hit("role_marker", line + " " + nxt)
    names = [n for n in criteria if n]
    spoken = [n.replace("_", " ") for n in names]
    for table in _tables(lines):
        head = " ".join(table[0])
        first_col = " ".join(row[0].lower().replace("_", " ") for row in table[1:] if row)
        rubricky = _TABLE_HEAD.search(head) or (spoken and sum(s in first_col for s in spoken) >= 2)
        if rubricky and any(_RATIO_CELL.match(cell) for row in table[1:] for cell in row):
            hit("fake_rubric_table", "\n".join("|".join(r) for r in table[:4]))
    for n, s in zip(names, spoken):
        if "_" in n and re.search(rf"\b{re.escape(n)}\b", t):
            hit("rubric_identifier", n)
        if re.search(rf"\b{re.escape(s)}\b\s*\W{{0,3}}\s*(?:[:=]\s*)?\d+(?:\.\d+)?\s*(?:/\s*\d+|points?\b|pts\b|(?=\s*[,.;]|$))", t, _I | re.M):
            if re.search(rf"\b{re.escape(s)}\b\s*\W{{0,3}}\s*[:=]|\b{re.escape(s)}\b\s*\d+(?:\.\d+)?\s*/", t, _I):
                hit("self_scoring", s)
    if re.search(r"\b(?:partly_met|not_met)\b", t):
        hit("rubric_identifier", "verdict tokens")
    hidden = sum(1 for ch in unicodedata.normalize("NFKC", html.unescape(text))
                 if _INVISIBLE.match(ch) and ch not in _EMOJI_VS)
    if hidden >= 3:
        hit("hidden_characters", f"{hidden} invisible, variation or bidi-control characters")
    return out
