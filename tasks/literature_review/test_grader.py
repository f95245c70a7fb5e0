"""The literature-review grader's deterministic part and the corpus tools, without a model."""
from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from pytest_rltask.judge import screen  # noqa: E402
from pytest_rltask.tools import ToolInputError  # noqa: E402

import literature_review_checks as checks  # noqa: E402
import literature_review_corpus as corpus  # noqa: E402

pytestmark = pytest.mark.offline
PAPERS = corpus.load()
REVIEWS = {"memory": "memory", "memory_alt": "memory", "rl_alignment": "rl_alignment", "robotics": "robotics"}


def review(name: str) -> str:
    return (HERE / "reviews" / f"{name}.md").read_text(encoding="utf-8")


def call(tool, **inp) -> str:
    return asyncio.run(tool.func(None, inp)).content


# -- the corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_big_enough_and_covers_every_required_approach():
    assert len(PAPERS) >= 60
    for topic, info in checks.TOPIC_INFO.items():
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
        assert checks.matches(n, results), f"{pid}: {n.raw} is not in its results"
    assert all(len(checks.numbers_in(r["value"], all_numbers=True)) == 1 for r in p.results), pid
    assert p.year in range(1980, 2026) and all(r in PAPERS and r != pid for r in p.references)


@pytest.mark.parametrize("pid", sorted(PAPERS))
def test_every_paper_is_the_top_hit_for_its_own_title(pid):
    hits = corpus.index().search(PAPERS[pid].title, 3)
    assert hits[0][0].id == pid


def test_tools_read_the_corpus_and_refuse_unknown_ids():
    assert "[rag_2020]" in call(corpus.web_search, query="retrieval-augmented generation knowledge-intensive")
    assert "44.5" in call(corpus.get_paper_results, paper_id="rag_2020")
    assert "[rag_2020]" in call(corpus.get_paper_with_tldr, paper_id="[RAG_2020]")
    assert "Introduction (excerpt)" in call(corpus.get_paper_introduction, paper_id="rag_2020")
    refs = call(corpus.get_paper_references, paper_id="rag_2020")
    assert "Cited by, in the corpus" in refs
    assert "no papers match" in call(corpus.web_search, query="the of and")
    for bad in ({"paper_id": "made_up_2024"}, {"paper_id": ""}, {}):
        with pytest.raises(ToolInputError):
            call(corpus.get_paper_results, **bad)
    with pytest.raises(ToolInputError):
        call(corpus.web_search, query="memory", limit=99)


def test_search_is_deterministic():
    q = "world models imagination policy learning"
    assert [p.id for p, _ in corpus.index().search(q)] == [p.id for p, _ in corpus.index().search(q)]


# -- the checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REVIEWS))
def test_every_reference_review_passes_the_deterministic_part(name):
    ins = checks.inspect(review(name), REVIEWS[name])
    assert checks.decide(ins) is None, ins.summary()
    assert len(ins.verified) >= 8 and not screen(review(name))


def test_numbers_inside_names_and_years_are_not_checked():
    got = [n.raw for n in checks.numbers_in("GPT-3 and RT-2 in 2023 reach 97% and 18.3 on T5 with 3 seeds, 25x, 7B, 130k")]
    assert got == ["97%", "18.3", "25x", "7B", "130k"]


@given(v=st.floats(0.01, 9999, allow_nan=False), d=st.integers(0, 2))
def test_a_reported_number_rounded_as_shown_still_matches(v, d):
    assume(0.5 * 10 ** -d <= checks.MAX_ROUNDING * v)  # rounding that keeps the number within 5 %
    shown = f"{round(v, d):.{d}f}"
    n = checks.numbers_in(shown, all_numbers=True)[0]
    assert checks.matches(n, {v})


@pytest.mark.parametrize("shown, reported", [("0k", 300), ("0 thousand", 499), ("1k", 1400), ("0.0T", 2e12),
                                             ("2x", 2.4), ("0", 0.4)])
def test_coarse_spellings_do_not_match_a_range(shown, reported):
    assert not checks.matches(checks.numbers_in(shown, all_numbers=True)[0], {reported})


@given(pid=st.sampled_from(sorted(p for p in PAPERS if PAPERS[p].topic == "memory")),
       bump=st.floats(1.13, 9.0))
@settings(max_examples=60, deadline=None)
def test_a_number_the_cited_paper_does_not_report_is_caught(pid, bump):
    pool = checks.paper_numbers(PAPERS[pid])
    value = round(max(pool | {1.0}) * bump + 0.7, 1)
    text = review("memory") + f"\n\nA follow-up measured {value} on the same benchmark [{pid}].\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_number"


@given(fake=st.from_regex(r"[a-z]{3,10}_20[0-3][0-9]", fullmatch=True))
@settings(max_examples=40, deadline=None)  # each example inspects a whole review
def test_a_citation_outside_the_corpus_is_an_invented_paper(fake):
    if fake in PAPERS:
        return
    text = review("robotics") + f"\n\nSee also [{fake}] for a broader survey of the field.\n"
    assert checks.decide(checks.inspect(text, "robotics"))[0] == "invented_paper"


def test_sentences_do_not_split_after_et_al():
    assert checks.sentences("Dai et al. (2019) cache states. Then 18.3 [transformer_xl_2019].") == [
        "Dai et al. (2019) cache states.", "Then 18.3 [transformer_xl_2019]."]


@pytest.mark.parametrize("path", sorted((HERE / "solutions").glob("*.json")), ids=lambda p: p.stem)
def test_each_shipped_solution_gets_its_declared_category_from_the_deterministic_part(path):
    t = json.loads(path.read_text())
    topic = checks.TOPIC_ORDER[(t["seed"] - 1) % 3]
    got = checks.decide(checks.inspect(t["steps"][-1]["input"]["answer"], topic))
    assert (got[0] if got else None) == (t["category"] if t["expect"] == "fail" else None)


@pytest.mark.parametrize("extra", [
    "Later work extends this [memorynet_plus_2024](https://arxiv.org/abs/2401.00001).",
    "Zhang and Li (2024) propose hierarchical memory.",
    "Hierarchical memory [Zhang 2024] helps.",
    "Hierarchical memory [zhang-2024] helps.",
    "Hierarchical memory \uff3bzhang_2024\uff3d helps.",
    "Berg et al. (2024) extend it.",
    "Numbered references are not corpus ids [12].",
    "See https://arxiv.org/abs/2401.00001 for details.",
], ids=["md_link", "two_authors", "bracket_space", "bracket_hyphen", "fullwidth", "et_al", "numbered", "url"])
def test_sources_outside_the_corpus_are_invented_papers(extra):
    text = review("memory") + "\n\n" + extra + "\n"
    assert checks.decide(checks.inspect(text, "memory"))[0] == "invented_paper"


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


def test_the_checks_know_the_rubric_criteria_the_judge_uses():
    import test_literature_review as task

    assert tuple(c.name for c in task.rubric("memory").criteria) == checks.CRITERIA
