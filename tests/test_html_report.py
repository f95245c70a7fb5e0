"""The HTML report in a real headless Chromium: it loads with no console errors, the plot and a
transcript render, agent-written text cannot run, and screenshots are taken."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_rltask import html as rl_html
from tests.servers.browser import Browser, BrowserUnavailable

XSS = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2"> & <b>bold</b>'


def _transcript(path: Path, answer: str, outcome: str, category: str | None) -> str:
    events = [
        {"type": "meta", "t": 0, "task": "tasks/t/test_t.py::test_t", "case": path.stem, "agent": "anthropic",
         "model": "claude-haiku-4-5", "isolation": "bubblewrap", "instance_source": "secret"},
        {"type": "prompt", "t": 0, "system": None, "prompt": "Compute (2^10 + 3^5) * 7 - 100.", "tools": ["run_python"]},
        {"type": "model_reply", "t": 1.0, "stop_reason": "tool_use", "usage": {"input_tokens": 900, "output_tokens": 40}},
        {"type": "assistant_text", "t": 1.0, "text": "I will compute it. " + XSS},
        {"type": "tool_call", "t": 1.2, "tool": "run_python", "input": {"path": "calc.py"},
         "result": "exit code: 0\nstdout:\n" + answer + "\n", "is_error": False, "seconds": 0.05},
        {"type": "grade_run", "t": 1.5, "argv": ["calc.py"], "exit_code": 0, "limit": None, "peak_rss": 12345678},
        {"type": "end", "t": 1.6, "status": "submitted", "steps": 2},
        {"type": "outcome", "t": 1.7, "outcome": outcome, "category": category, "message": "submitted " + answer},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def _report(tmp: Path) -> tuple[dict, list[dict]]:
    runs = []
    for i in range(1, 11):
        ok = i in (2, 7)
        cat = None if ok else ("wrong_answer" if i % 2 else "no_submission")
        tr = _transcript(tmp / f"run-{i}.jsonl", "8769" if ok else "-2", "passed" if ok else "failed", cat)
        runs.append({"nodeid": f"tasks/t/test_t.py::test_t[run-{i}]", "task": "tasks/t/test_t.py::test_t",
                     "case": f"run-{i}", "outcome": "passed" if ok else "failed", "category": cat,
                     "message": XSS if i == 1 else "", "seconds": 1.7, "cost": 0.0011, "transcript": tr})
    runs.append({"nodeid": "tasks/u/test_u.py::test_u[run-1]", "task": "tasks/u/test_u.py::test_u", "case": "run-1",
                 "outcome": "error", "category": "APIError", "message": "overloaded", "transcript": None})
    report = {
        "band": [0.1, 0.4], "agent": "anthropic", "model": "claude-haiku-4-5", "isolation": "bubblewrap",
        "verdict": "fail",
        "tasks": {
            "tasks/t/test_t.py::test_t": {"runs": 10, "passed": 2, "failed": 8, "errors": 0, "pass_rate": 0.2,
                                          "ci95": [0.057, 0.51], "verdict": "in_band", "band": [0.1, 0.4],
                                          "failures": {"wrong_answer": 4, "no_submission": 4}, "cost": 0.011},
            "tasks/u/test_u.py::test_u": {"runs": 1, "passed": 0, "failed": 0, "errors": 1, "pass_rate": None,
                                          "ci95": [0, 1], "verdict": "not_measured", "band": [0.1, 0.4]},
            "tasks/v/test_v.py::test_v": {"runs": 10, "passed": 9, "failed": 1, "errors": 0, "pass_rate": 0.9,
                                          "ci95": [0.596, 0.982], "verdict": "too_easy", "band": [0.1, 0.4]},
        },
    }
    return report, runs


def test_page_is_self_contained_and_escapes_agent_text(tmp_path: Path) -> None:
    report, runs = _report(tmp_path)
    page = rl_html.render(report, runs)
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script>window.pwned" not in page and "</script><script>" not in page
    assert page.count("<circle") == 2  # two tasks with completed runs


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    try:
        b = Browser(tmp_path_factory.mktemp("chrome"))
    except BrowserUnavailable as e:
        pytest.skip(f"no headless browser here: {e}")
    yield b
    b.close()


def test_report_renders_in_chromium(tmp_path: Path, browser: Browser) -> None:
    report, runs = _report(tmp_path)
    page = tmp_path / "report.html"
    rl_html.write(page, report, runs)
    browser.get(page.as_uri())
    assert browser.js("return document.body.dataset.ready") == "1"
    errors = [e for e in browser.console() if e.get("level") == "SEVERE"]
    assert not errors, errors
    assert browser.js("return window.pwned === undefined") is True
    # the plot: one dot per task with completed runs, the band drawn per task
    assert browser.js("return document.querySelectorAll('#plot circle').length") == 2
    assert browser.js("return document.querySelectorAll('#plot rect.band').length") == 3
    # the first failed run's transcript is open: its model turn, tool call and outcome render as text
    text = browser.js("return document.getElementById('transcript').innerText")
    assert "tool run_python" in text and "exit code: 0" in text and "outcome" in text
    assert XSS.split(">")[0] in text  # agent text shown literally, not parsed
    assert browser.js("return document.querySelectorAll('#transcript img, #transcript b').length") == 0
    shots = Path(os.environ.get("RLTASK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    first = browser.screenshot(shots / "report-overview.png")
    # filters: only passed runs, then open one
    browser.js("const s = document.getElementById('f-outcome'); s.value = 'passed'; s.dispatchEvent(new Event('change'));")
    assert browser.js("return document.querySelectorAll('#runs tbody tr').length") == 2
    browser.js("document.querySelector('#runs tbody tr').click(); document.getElementById('transcript').scrollIntoView();")
    assert "8769" in browser.js("return document.getElementById('transcript').innerText")
    second = browser.screenshot(shots / "report-transcript.png")
    for shot in (first, second):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
