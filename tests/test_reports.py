"""Reports through the plugin: the terminal block per failed run, the Markdown summary (file and
$GITHUB_STEP_SUMMARY), cost from token counts with the price table, --rl-max-cost, the live-cost
estimate from recorded runs, and the HTML report opened in a real headless Chromium."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.servers import messages_api as m

TASK_MODULE = '''
from pytest_rltask import Task, category

TASK = Task(prompt="Compute (2^10 + 3^5) * 7 - 100 and submit it.", tools=["submit_answer"], max_steps=2)

def test_arith(rollout):
    with category("wrong_answer"):
        assert rollout.answer.strip() == "8769", f"submitted {rollout.answer!r}"
'''


def _answers(p: pytest.Pytester, *values: str) -> Path:
    d = p.mkdir("runs")
    for i, v in enumerate(values):
        (d / f"{i:02d}.json").write_text(json.dumps({"steps": [{"tool": "submit_answer", "input": {"answer": v}}]}))
    return d


@pytest.fixture
def arith(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_arith=TASK_MODULE)
    return pytester


def test_terminal_block_and_markdown_summary(arith: pytest.Pytester) -> None:
    runs = _answers(arith, "8769", "-2", "-2", "-2", "-2")
    summary = arith.path / "step-summary.md"
    arith._monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))  # noqa: SLF001
    res = arith.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "replay", f"--rl-replay={runs}",
                                     "--rl-runs", "5", "--rl-min-runs", "5", "--rl-band", "0.5,0.9",
                                     "--rl-markdown", "summary.md", "--rl-transcripts", "tr")
    assert res.ret == 1
    out = res.stdout.str()
    # one short block per failed run: outcome, node id, category, message, transcript tail and path
    res.stdout.fnmatch_lines(["*rltask runs that did not pass*",
                              "FAILED test_arith.py::test_arith[[]run-2[]]  [[]wrong_answer[]] submitted '-2'*",
                              "*submit_answer*", "    transcript: *run-2.jsonl"])
    assert out.count("[wrong_answer] submitted '-2'") >= 4
    assert "contextlib.py" not in out and "outcome.py" not in out
    res.stdout.fnmatch_lines(["next step: test_arith: too hard: wrong_answer 4/5*"])
    md = (arith.path / "summary.md").read_text()
    assert "session verdict **fail**" in md
    assert "| `test_arith.py::test_arith` | 5 | 1 | 4 | 0 | 20% [" in md
    assert "wrong_answer 4" in md and "too hard" in md
    assert summary.read_text() == md  # the same summary, appended for GitHub Actions
    quiet = arith.runpytest_subprocess("-q", "-p", "no:cacheprovider", "--rl-agent", "replay", f"--rl-replay={runs}",
                                       "--rl-runs", "5", "--rl-min-runs", "5", "--rl-band", "0.5,0.9")
    assert "rltask runs that did not pass" not in quiet.stdout.str()


def _model(body: dict) -> dict:
    return m.message(m.tool_use("submit_answer", {"answer": "8769"}),
                     usage=m.usage(input_tokens=1_000_000, output_tokens=100_000))


def _live(p: pytest.Pytester, server, *args: str) -> tuple[pytest.RunResult, dict]:
    p._monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)  # noqa: SLF001
    p._monkeypatch.setenv("ANTHROPIC_API_KEY", "test")  # noqa: SLF001
    early = [] if "--rl-early-stop" in args else ["--rl-early-stop", "off"]
    res = p.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "anthropic", "--rl-band", "0,1",
                                 "--rl-report", "report.json", *early, *args)
    report = p.path / "report.json"
    return res, json.loads(report.read_text()) if report.exists() else {}


def test_cost_from_tokens_and_the_price_table(arith: pytest.Pytester) -> None:
    from pytest_rltask.sandbox import detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    with m.MessagesAPIServer(_model) as server:
        res, report = _live(arith, server, "--rl-runs", "2", "--rl-min-runs", "2", "--rl-transcripts", "live")
    assert res.ret == 0, res.stdout.str()[-2000:]
    # claude-haiku-4-5: $1 per million input tokens, $5 per million output tokens
    assert report["tasks"]["test_arith.py::test_arith"]["cost"] == pytest.approx(2 * (1.0 + 0.5))
    assert report["cost"] == pytest.approx(3.0)
    res.stdout.fnmatch_lines(["cost: test_arith $3.0000; total $3.0000"])
    # a dry run over the recordings estimates what a live run would spend, from what they spent
    dry = arith.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "replay", "--rl-replay", "live",
                                     "--rl-runs", "2", "--rl-min-runs", "2", "--rl-band", "0,1",
                                     "--rl-report", "dry.json", "--rl-transcripts", "dry")
    assert dry.ret == 0, dry.stdout.str()[-2000:]
    data = json.loads((arith.path / "dry.json").read_text())
    assert data["estimated_live_cost"] == pytest.approx(3.0) and data["estimated_from_runs"] == 2
    # a model with no price gets no cost, never a guess; prices can be given
    prices = arith.path / "prices.json"
    prices.write_text(json.dumps({"my-model": {"input": 2, "output": 10, "cache_read": 0.2, "cache_write": 2.5}}))
    with m.MessagesAPIServer(_model) as server:
        _, unknown = _live(arith, server, "--rl-runs", "1", "--rl-min-runs", "1", "--rl-model", "my-model")
        _, priced = _live(arith, server, "--rl-runs", "1", "--rl-min-runs", "1", "--rl-model", "my-model",
                          f"--rl-prices={prices}")
    assert unknown["tasks"]["test_arith.py::test_arith"]["cost"] is None
    assert priced["cost"] == pytest.approx(2.0 + 1.0)


def test_max_cost_stops_and_fails_closed(arith: pytest.Pytester) -> None:
    from pytest_rltask.sandbox import detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    with m.MessagesAPIServer(_model) as server:
        res, report = _live(arith, server, "--rl-runs", "6", "--rl-min-runs", "1", "--rl-max-cost", "2",
                            "--rl-concurrency", "1", "--rl-early-stop", "off")
    assert res.ret != 0
    t = report["tasks"]["test_arith.py::test_arith"]
    assert t["passed"] < 6 and t["error_kinds"].get("not_played", 0) >= 1
    assert report["verdict"] == "fail"
    res.stdout.fnmatch_lines(["*--rl-max-cost $2 reached*"])


def test_bad_price_file_is_a_usage_error(arith: pytest.Pytester) -> None:
    (arith.path / "p.json").write_text('{"m": {"input": 1}}')
    res = arith.runpytest_subprocess("--rl-prices", "p.json")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--rl-prices*needs numeric input, output, cache_read and cache_write*"])


def test_html_report_end_to_end_in_chromium(arith: pytest.Pytester, tmp_path: Path,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.servers.browser import Browser, BrowserUnavailable

    runs = _answers(arith, "8769", "-2", "<script>window.pwned=1</script>")
    res = arith.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "replay", f"--rl-replay={runs}",
                                     "--rl-runs", "6", "--rl-min-runs", "6", "--rl-html", "report.html",
                                     "--rl-transcripts", "tr")
    page = arith.path / "report.html"
    assert page.is_file(), res.stdout.str()[-2000:]
    try:
        b = Browser(tmp_path_factory.mktemp("c"))  # a short path: Chromium's socket lives in the profile
    except BrowserUnavailable as e:
        pytest.skip(f"no headless browser here: {e}")
    try:
        b.get(page.as_uri())
        assert b.js("return document.body.dataset.ready") == "1"
        assert not [e for e in b.console() if e.get("level") == "SEVERE"]
        assert b.js("return window.pwned === undefined") is True
        assert b.js("return document.querySelectorAll('#plot circle').length") == 1
        assert b.js("return document.querySelectorAll('#runs tbody tr').length") == 6
        text = b.js("return document.getElementById('transcript').innerText")
        assert "tool submit_answer" in text and "wrong_answer" in text
        shots = Path(os.environ.get("RLTASK_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        shot = b.screenshot(shots / "report-from-a-run.png")
        assert shot.stat().st_size > 10_000
    finally:
        b.close()
