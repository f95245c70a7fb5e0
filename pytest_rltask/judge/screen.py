"""Deterministic screening for text aimed at the judge, run before any model sees a submission.

A submission is data to be graded. Text in it that addresses the grader, claims a score, fakes a
rubric or a verdict, or imitates chat-role and prompt-template markers can only be an attempt to
steer the judge, so it fails the run (category ``judge_injection``) without a model call.
The text is normalized first (NFKC, invisible characters removed, whitespace collapsed), so
full-width letters, zero-width joiners and split words do not slip through.

Subtler persuasion ("experts agree this deserves top marks") is left to the judge, which is told
to flag it; the screen only claims what it can decide without a model.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata

# zero-width, bidi controls, soft hyphen, word joiners, BOM, tag characters
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]")
_GRADER = r"(?:grader|judge|evaluator|assessor|grading (?:model|system|assistant)|(?:ai|llm) (?:grader|judge|evaluator|reviewer))"
_SCORE = (
    r"(?:\d+(?:\.\d+)?\s*(?:/|out of)\s*(?:10|100)\b|full (?:marks|points|score|credit)|"
    r"(?:maximum|max|top|perfect|highest) (?:marks|points|score|scores|grade|rating)|a pass(?:ing)? (?:grade|score|verdict))"
)

RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.IGNORECASE | re.MULTILINE))
    for name, rx in (
        ("override_instructions",
         r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,60}?\b(?:previous|prior|above|earlier|all|any|the|your|these|grading|system)\b"
         r"[^.\n]{0,40}?\b(?:instructions?|rubric|criteria|prompt|rules|guidelines|directions)\b"),
        ("new_instructions",
         r"\b(?:new|updated|revised|real|actual|additional) (?:instructions?|rubric|grading (?:rules|criteria)|system prompt)\s*[:\-]"),
        ("score_demand",
         r"\b(?:award|give|assign|grant|score|rate|mark|grade)\b[^.\n]{0,40}?\b(?:this|the|my|our|it|me|us|submission|review|proposal|answer|each|every|all)\b"
         r"[^.\n]{0,40}?" + _SCORE),
        ("score_claim",
         r"\b(?:this|the) (?:submission|review|proposal|answer|response)\b[^.\n]{0,40}?\b(?:deserves|merits|earns|should (?:get|receive|be (?:given|awarded)))\b"
         r"[^.\n]{0,30}?" + _SCORE),
        ("addresses_grader",
         r"(?:\b(?:note|message|instructions?|attention|hello|hi|dear)\b[^.\n]{0,12}?\bto (?:the |any |an? )?" + _GRADER + r"s?\b|"
         r"\b(?:dear|attention|hey)\s+(?:the\s+)?" + _GRADER + r"s?\b|^\W*(?:to the )?" + _GRADER + r"s?\s*:)"),
        ("you_are_grading",
         r"\byou are (?:an? |the )?(?:grader|judge|evaluator|assessor|grading)|\bas (?:the|an?) (?:ai |llm )?(?:grader|judge|evaluator)\b[^.\n]{0,40}\byou\b"),
        ("role_marker",
         r"^\W{0,3}(?:human|assistant|system|user|developer|\[?inst\]?)\s*:"
         r"|<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>"
         r"|\[/?INST\]|<</?SYS>>|</?(?:system|instructions?|rubric|submission[\w-]*|grading|verdict|admin|prompt)\b[^>]{0,40}>"),
        ("verdict_markup",
         r"\b(?:record_verdict|injection_detected|tool_choice)\b|\"(?:score|criteria|criterion)\"\s*:"),
        ("fake_rubric_table",
         r"^\s*\|[^\n]*\b(?:criterion|criteria|rubric|grade|points|score|verdict)\b[^\n]*\|\s*\n(?:[^\n]*\n){0,20}?\s*\|[^\n]*\b\d+(?:\.\d+)?\s*/\s*(?:10|100|[1-9])\b[^\n]*\|"),
        ("score_line",
         r"^\W{0,4}(?:final|total|overall|rubric|judge'?s?|grader'?s?)\s+(?:score|grade|verdict|rating|points)\s*[:=]"),
    )
)


@dataclasses.dataclass(frozen=True)
class Finding:
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.excerpt!r}"


def normalize(text: str) -> str:
    """NFKC, invisible characters dropped, runs of spaces and tabs collapsed (newlines kept)."""
    t = unicodedata.normalize("NFKC", text)
    t = _INVISIBLE.sub("", t)
    t = re.sub(r"[ \t\f\v\u00a0]+", " ", t)
    return t


def screen(text: str) -> list[Finding]:
    """Every place where the text speaks to the grader instead of answering the task."""
    t = normalize(text)
    out: list[Finding] = []
    for name, rx in RULES:
        for m in rx.finditer(t):
            out.append(Finding(name, t[max(0, m.start() - 20): m.end() + 20].strip()[:200]))
            break
    invisible = len(_INVISIBLE.findall(unicodedata.normalize("NFKC", text)))
    if invisible >= 3:
        out.append(Finding("hidden_characters", f"{invisible} invisible or bidi-control characters"))
    return out
