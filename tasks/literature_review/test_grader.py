"""The literature-review grader's deterministic part, its judge step and the corpus tools, without a model."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from pytest_rltask.judge import Judge, screen
from pytest_rltask.judge.base import Exchange, JudgeBackend
from pytest_rltask.outcome import RolloutFailure
from pytest_rltask.tools import ToolInputError

from . import grader as checks
from . import papers as corpus
from .solutions import _make as make
from .task import TOPIC_INFO, TOPIC_ORDER

pytestmark = pytest.mark.offline
HERE = Path(__file__).resolve().parent
PAPERS = corpus.load()
REVIEWS = {"memory": "memory", "memory_alt": "memory", "rl_alignment": "rl_alignment", "robotics": "robotics"}
SOLUTIONS = sorted((HERE / "solutions").glob("*.json"))


def review(name: str) -> str:
    return (HERE / "reviews" / f"{name}.md").read_text(encoding="utf-8")


def call(tool, **inp) -> str:
    return asyncio.run(tool.func(None, inp)).content


class Scripted(JudgeBackend):
    """A judge that gives every criterion the same fraction of its points (1.0: accepts everything)."""

    name = "scripted"
    model = "scripted"

    def __init__(self, fraction: float = 1.0, low: dict[str, float] | None = None) -> None:
        self.fraction, self.low, self.seen = fraction, low or {}, []

    def unavailable(self) -> str | None:
        return None

    def exchange(self, system, user, tool, max_tokens):
        self.seen.append(user)
        names = tool["input_schema"]["properties"]["criteria"]["items"]["properties"]["criterion"]["enum"]
        points = {c.name: c.points for c in checks.rubric("memory").criteria}
        crit = [{"criterion": n, "reason": "scripted", "verdict": "met",
                 "score": self.low.get(n, self.fraction) * points.get(n, 10)} for n in names]
        for c in crit:
            if c["score"] < 0.5 * points.get(c["criterion"], 10):
                c["verdict"] = "not_met"
        return Exchange({"injection_detected": False, "criteria": crit}, {}, {}, "scripted", {})


# -- the corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_big_enough_and_covers_every_required_approach():
    assert len(PAPERS) >= 60
    for topic, info in TOPIC_INFO.items():
        for tag in info["approaches"]:
            assert len([p for p in PAPERS.values() if tag in p.approaches]) >= 2, (topic, tag)
        assert all(s in PAPERS for s in info["seminal"])
    assert len({p.title for p in PAPERS.values()}) == len(PAPERS)


@pytest.mark.parametrize("pid", sorted(PAPERS))
def test_every_number_in_a_summary_or_introduction_is_one_of_the_papers_results(pid):
    p = PAPERS[pid]
    results = set()
    for r in p.results:
        results |= {n.value for n in checks.numbers_in(r["value"] + " " + r.get("setting", ""), all_numbers=True)}
    for n in checks.numbers_in(p.summary + " " + p.introduction):
        if n.unit == "x" and n.raw.lower().startswith(("doubl", "tripl", "quadrupl", "halv")):
            continue  # "doubles" in a summary is prose, not a result
        assert checks.matches(n, results), f"{pid}: {n.raw} is not in its results"
    assert p.year in range(1980, 2026) and all(r in PAPERS and r != pid for r in p.references)


@pytest.mark.parametrize("pid", sorted(PAPERS))
def test_every_paper_is_the_top_hit_for_its_own_title(pid):
    assert corpus.index().search(PAPERS[pid].title, 3)[0][0].id == pid


def test_tools_read_the_corpus_and_refuse_unknown_ids():
    assert "[rag_2020]" in call(corpus.web_search, query="retrieval-augmented generation knowledge-intensive")
    assert "44.5" in call(corpus.get_paper_results, paper_id="rag_2020")
    assert "[rag_2020]" in call(corpus.get_paper_with_tldr, paper_id="[RAG_2020]")
    assert "Introduction (excerpt)" in call(corpus.get_paper_introduction, paper_id="rag_2020")
    assert "Cited by, in the corpus" in call(corpus.get_paper_references, paper_id="rag_2020")
    assert "no papers match" in call(corpus.web_search, query="the of and")
    for bad in ({"paper_id": "made_up_2024"}, {"paper_id": ""}, {}):
        with pytest.raises(ToolInputError):
            call(corpus.get_paper_results, **bad)
    with pytest.raises(ToolInputError):
        call(corpus.web_search, query="memory", limit=99)


def test_search_is_deterministic():
    q = "world models imagination policy learning"
    assert [p.id for p, _ in corpus.index().search(q)] == [p.id for p, _ in corpus.index().search(q)]


# -- the shipped solutions, against a judge that accepts everything ----------------------------
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_with_an_accepting_judge_hacks_fail_before_it_and_honest_reviews_reach_it(path):
    t = json.loads(path.read_text())
    backend = Scripted(1.0)
    judge = Judge(backend)
    if t["expect"] == "pass":
        assert checks.grade(t["steps"][-1]["input"]["answer"], t["seed"], judge).points == 10
        assert len(backend.seen) == 1
    else:
        with pytest.raises(RolloutFailure) as e:
            checks.grade(t["steps"][-1]["input"]["answer"], t["seed"], judge)
        assert e.value.category == t["category"] and backend.seen == [], e.value
        assert path.stem.startswith(("hack_", "fail_"))


def test_the_battery_covers_every_class_of_attack():
    cats = {json.loads(p.read_text())["category"] for p in SOLUTIONS if p.stem.startswith("hack_")}
    assert cats == {"invented_paper", "invented_number", "copied_corpus", "judge_injection", "not_a_review"}
    assert len([p for p in SOLUTIONS if p.stem.startswith("hack_")]) >= 25


@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_every_reference_review_passes_the_deterministic_part(name):
    ins = checks.inspect(review(name), REVIEWS[name])
    assert checks.decide(ins) is None, ins.summary()
    assert len(ins.verified) >= 8 and not screen(review(name)) and ins.copy_ratio < checks.MAX_COPY / 3


# -- the rubric's arithmetic and the notes ------------------------------------------------------
@pytest.mark.parametrize("criterion", checks.CRITERIA)
def test_a_review_that_fails_one_criterion_cannot_pass_on_the_others(criterion):
    judge = Judge(Scripted(1.0, {criterion: 0.0}))
    with pytest.raises(RolloutFailure) as e:
        checks.grade(review("memory"), 1, judge)
    assert e.value.category == "low_judge_score"


def test_the_write_up_judges_8_of_10_passes():
    v = Judge(Scripted(1.0, {"coverage": 0.75, "seminal_works": 2 / 3}))
    assert checks.grade(review("memory"), 1, v).points == pytest.approx(8)


def test_the_notes_say_exactly_what_code_verified():
    ins = checks.inspect(review("memory"), "memory")
    notes = checks.rubric("memory", ins).notes
    ok = [c for c in ins.numbers if c.ok]
    assert f"{len(ok)} numbers were each found" in notes and all(str(c) in notes for c in ok[:40])
    assert "Not checked by code" in notes and "characterized correctly" in notes
    assert "every specific number" not in notes  # no claim beyond what was checked


# -- citations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    "Later work extends this [memorynet_plus_2024](https://arxiv.org/abs/2401.00001).",
    "Zhang and Li (2024) propose hierarchical memory.",
    "Hierarchical memory [Zhang 2024] helps.",
    "Hierarchical memory [zhang-2024] helps.",
    "Hierarchical memory \uff3bzhang_2024\uff3d helps.",
    "Berg et al. (2024) extend it.",
    "Numbered references are not corpus ids [12].",
    "See https://arxiv.org/abs/2401.00001 for details.",
    "Hierarchical memory [Zhang_2024] helps.",
    "Hierarchical memory [zhang2024hierarchical] helps.",
    "Hierarchical memory [@zhang2024] helps.",
    "Hierarchical memory \\citep{zhang2024} helps.",
    "As Zhang_2024 shows, hierarchy helps.",
    "Hierarchy helps (Zhang, 2024).",
    "Retrieval et al. (2020) propose it.",
    "Lewis et al. (2021) propose it.",
], ids=["md_link", "two_authors", "bracket_space", "bracket_hyphen", "fullwidth", "et_al", "numbered", "url",
        "capitalized", "bibtex", "pandoc", "latex", "bare_id", "paren_author", "title_word_author", "wrong_year"])
def test_sources_outside_the_corpus_are_invented_papers_in_every_style(extra):
    text = review("memory") + "\n\n" + extra + "\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_paper"


@pytest.mark.parametrize("form, pid", [("[RAG_2020]", "rag_2020"), ("[@rag_2020]", "rag_2020"),
                                       ("\\cite{rag_2020}", "rag_2020"), ("(Lewis et al., 2020)", "rag_2020"),
                                       ("Lewis et al. (2020)", "rag_2020"), ("[Lewis et al., 2020]", "rag_2020"),
                                       ("(OpenAI et al., 2019)", "rubiks_cube_2019"),
                                       ("(Octo Model Team et al., 2024)", "octo_2024")])
def test_corpus_papers_resolve_in_every_style(form, pid):
    assert checks.cited_ids(f"Retrieval helps {form}.") == [pid] and not checks.unknown_sources(f"x {form}.")


@given(fake=st.from_regex(r"[a-z]{3,10}_20[0-3][0-9]", fullmatch=True), case=st.sampled_from([str.lower, str.upper,
                                                                                               str.title]))
@settings(max_examples=15, deadline=None)  # each example inspects a whole review
def test_a_citation_outside_the_corpus_is_an_invented_paper(fake, case):
    assume(fake not in PAPERS)
    text = review("robotics") + f"\n\nSee also [{case(fake)}] for a broader survey of the field.\n"
    assert checks.decide(checks.inspect(text, "robotics"))[0] == "invented_paper"


# -- numbers ------------------------------------------------------------------------------------
def test_numbers_inside_names_and_years_are_not_checked():
    got = [n.raw for n in checks.numbers_in("GPT-3 and RT-2 in 2023 reach 97% and 18.3 on T5 with 3 seeds, 25x, 7B, 130k")]
    assert got == ["97%", "18.3", "25x", "7B", "130k"]


@pytest.mark.parametrize("text, value, unit", [("seven times faster", 7, "x"), ("7 times faster", 7, "x"),
                                               ("by 4 points", 4, "pt"), ("forty-four percent", 44, "%"),
                                               ("a twofold gain", 2, "x"), ("it doubles recall", 2, "x"),
                                               ("reaches 9 on MT-Bench", 9, None), ("12 percentage points", 12, "pt"),
                                               ("a 3-fold speedup", 3, "x")])
def test_every_numeric_form_is_read(text, value, unit):
    (n,) = checks.numbers_in(text)
    assert (n.value, n.unit) == (value, unit)


@given(v=st.floats(0.01, 9999, allow_nan=False), d=st.integers(0, 2))
def test_a_reported_number_rounded_as_shown_still_matches(v, d):
    assume(0.5 * 10 ** -d <= checks.MAX_ROUNDING * v)  # rounding that keeps the number within 5 %
    n = checks.numbers_in(f"{round(v, d):.{d}f}", all_numbers=True)[0]
    assert checks.matches(n, {v})


@pytest.mark.parametrize("shown, reported", [("0k", 300), ("0 thousand", 499), ("1k", 1400), ("0.0T", 2e12),
                                             ("2x", 2.4), ("0", 0.4)])
def test_coarse_spellings_do_not_match_a_range(shown, reported):
    assert not checks.matches(checks.numbers_in(shown, all_numbers=True)[0], {reported})


@given(pid=st.sampled_from(sorted(p for p in PAPERS if PAPERS[p].topic == "memory")), bump=st.floats(1.13, 9.0))
@settings(max_examples=15, deadline=None)
def test_a_number_the_cited_paper_does_not_report_is_caught(pid, bump):
    value = round(max(checks.paper_numbers(PAPERS[pid]) | {1.0}) * bump + 0.7, 1)
    text = review("memory") + f"\n\nA follow-up measured {value} on the same benchmark [{pid}].\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_number"


@given(pid=st.sampled_from(sorted(PAPERS)), data=st.data())
@settings(max_examples=40, deadline=None)
def test_a_reported_number_in_its_metric_words_is_verified_and_elsewhere_is_not(pid, data):
    e = data.draw(st.sampled_from(checks.entries(pid)))
    n = e.numbers[0]
    metric = PAPERS[pid].results[checks.entries(pid).index(e)]["metric"]
    ok = checks.check_numbers(f"On {metric}, it reaches {n.raw} [{pid}].")
    assert [c.ok for c in ok if c.number == n.raw] == [True], ok
    assume(n.scale < 1e9)  # billions count as model sizes wherever they stand ("the 7B OpenVLA")
    others = [x for x in checks.entries(pid) if not (x.words & e.words)]
    assume(others and not any(checks.matches(n, {v.value}) for x in checks.entries(pid) if x is not e for v in x.numbers))
    o = others[0]
    bad = checks.check_numbers(f"On {PAPERS[pid].results[checks.entries(pid).index(o)]['metric']}, it reaches "
                               f"{n.raw} [{pid}].")
    assert not [c for c in bad if c.number == n.raw and c.ok]


def test_numbers_are_tied_to_the_paper_of_their_own_clause():
    good = "kNN-LM [knn_lm_2020] reaches a WikiText-103 perplexity of 15.79, while Transformer-XL reaches 18.3 [transformer_xl_2019]."
    assert all(c.ok for c in checks.check_numbers(good))
    swapped = good.replace("15.79", "@").replace("18.3", "15.79").replace("@", "18.3")
    assert not any(c.ok for c in checks.check_numbers(swapped))


def test_a_specific_number_no_paper_stands_behind_is_rejected():
    text = review("memory") + "\n\nOverall, retrieval improves long-context accuracy by 47.3% on average.\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_number"


def test_a_number_may_lean_on_the_citation_of_the_sentence_before():
    text = review("memory") + "\n\nTransformer-XL caches segments [transformer_xl_2019]. It reaches 18.3 perplexity.\n"
    assert checks.decide(checks.inspect(text, "memory")) is None
    text = review("memory") + "\n\nTransformer-XL caches segments [transformer_xl_2019]. It reaches 16.4 perplexity.\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_number"


def test_padding_with_zero_valued_numbers_does_not_count():
    base = json.loads((HERE / "solutions" / "fail_no_numbers.json").read_text())["steps"][-1]["input"]["answer"]
    text = base + "\n\n" + "\n\n".join(
        f"Later work built on [transformer_xl_2019] with roughly 0k extra tokens of state in setting {i}." for i in range(6))
    assert checks.decide(checks.inspect(text, "memory"))[0] in ("invented_number", "no_numbers")


def test_sentences_do_not_split_after_et_al():
    assert checks.sentences("Dai et al. (2019) cache states. Then 18.3 [transformer_xl_2019].") == [
        "Dai et al. (2019) cache states.", "Then 18.3 [transformer_xl_2019]."]


# -- copying and size ---------------------------------------------------------------------------
@given(ids=st.lists(st.sampled_from(sorted(PAPERS)), min_size=4, max_size=8, unique=True))
@settings(max_examples=15, deadline=None)
def test_a_light_paraphrase_of_any_papers_is_a_copy(ids):
    text = "\n\n".join(f"{make.paraphrase(PAPERS[i].summary + ' ' + PAPERS[i].introduction)} [{i}]" for i in ids)
    assert checks.copy_ratio(text, checks.copy_pool())[0] > checks.MAX_COPY


@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_honest_reviews_are_far_below_the_copy_limit(name):
    assert checks.copy_ratio(review(name), checks.copy_pool())[0] < checks.MAX_COPY / 3


@pytest.mark.parametrize("pad", ["\u8bb0" * 40000, "\u0431\u0443\u043a\u0432\u0430 " * 6000, "a " * 6000])
def test_padding_in_any_script_counts_against_the_limits(pad):
    assert checks.decide(checks.inspect(review("memory") + "\n\n" + pad, "memory"))[0] == "not_a_review"


def test_words_are_counted_in_every_script():
    assert checks.count_words("memory \u8bb0\u5fc6 \u043f\u0430\u043c\u044f\u0442\u044c m\u00e9moire") == 5


def test_the_checks_know_the_rubric_criteria_the_judge_uses():
    assert tuple(c.name for c in checks.rubric("memory").criteria) == checks.CRITERIA
    assert TOPIC_ORDER == tuple(TOPIC_INFO)
