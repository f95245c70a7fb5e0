"""The gate's verdict through pytest's own channels: junitxml and the terminal's failure summary.

Without this, pytest's last line and junitxml count items while the exit status follows the band
gate, and they contradict each other. Here each task that is not ``in_band`` becomes one failing
test case (``<task>::rltask_band``) in junitxml and in the terminal's failures and final line, and
junitxml carries the session and task verdicts as properties.
"""
from __future__ import annotations

from typing import Any

import pytest

from .collect import Collector, TaskSummary

GATE_NAME = "rltask_band"


def gate_nodeid(task: str) -> str:
    return f"{task}::{GATE_NAME}"


def _why(s: TaskSummary) -> str:
    n = s.passed + s.failed
    lo, hi = s.ci95
    rate = f"{s.passed}/{n} passed ({s.pass_rate:.0%}), 95% CI [{lo:.2f}, {hi:.2f}]" if n else "no completed run"
    band = f"band [{s.band[0]:.2f}, {s.band[1]:.2f}]"
    v = s.verdict
    if v == "partial":
        chosen = [i for i, o in enumerate(s.outcomes, 1) if o != "unselected"]
        return (f"only {len(chosen)} of its {s.planned} runs were selected (-k, --lf, --deselect or a skip): "
                f"a partial selection cannot confirm the band; {rate}")
    if v == "inconclusive":
        return (f"the sequential test at level {s.confidence} did not decide within {s.planned} runs: {rate}, "
                f"{band}; raise --rl-runs to decide")
    if v == "not_measured":
        return f"fewer than {s.min_runs} completed runs ({n}; errors {s.errors}): {rate}"
    return f"{v}: {rate}, {band}"


def _properties(s: TaskSummary) -> list[tuple[str, object]]:
    lo, hi = s.ci95
    return [
        ("rltask_verdict", s.verdict), ("passed", s.passed), ("failed", s.failed), ("errors", s.errors),
        ("planned", s.planned), ("skipped", s.skipped), ("ci95", f"{lo:.3f},{hi:.3f}"),
        ("confirmed_in_band", str(s.confirmed_in_band).lower()),
    ]


def _reports(task: str, s: TaskSummary) -> tuple[pytest.TestReport, pytest.TestReport]:
    path = task.split("::", 1)[0]
    location = (path, None, f"{task.split('::', 1)[-1]}::{GATE_NAME}")
    longrepr = f"rltask gate: {task}: {_why(s)}"
    call = pytest.TestReport(gate_nodeid(task), location, {}, "failed", longrepr, "call")
    teardown = pytest.TestReport(gate_nodeid(task), location, {}, "passed", None, "teardown",
                                 user_properties=_properties(s))
    return call, teardown


def failing_tasks(collector: Collector) -> dict[str, TaskSummary]:
    return {t: s for t, s in sorted(collector.summaries().items()) if s.verdict != "in_band"}


def publish(config: pytest.Config, collector: Collector) -> None:
    """Tell junitxml and the terminal what the gate decided (the controller, once, at session end)."""
    xml = _junit(config)
    verdict = collector.verdict()
    if xml is not None:
        xml.add_global_property("rltask_verdict", verdict)
        for task, s in sorted(collector.summaries().items()):
            xml.add_global_property(f"rltask_verdict[{task}]", s.verdict)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    for task, s in failing_tasks(collector).items():
        call, teardown = _reports(task, s)
        if xml is not None:
            xml.pytest_runtest_logreport(call)
            xml.pytest_runtest_logreport(teardown)
        if tr is not None:
            tr.stats.setdefault("failed", []).append(call)


def _junit(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key  # the LogXML instance, the same one record_testsuite_property uses
    except ImportError:  # pragma: no cover - a pytest without it
        return None
    return config.stash.get(xml_key, None)
