"""The pytest plugin: options, markers, the rollout fixture, and hook wiring over plain modules."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from . import settings as _settings
from .collect import Collector
from .outcome import RolloutFailure, classify
from .task import Case, Rollout, Task, solutions_of, task_id

SETTINGS = pytest.StashKey[_settings.Settings]()
COLLECTOR = pytest.StashKey[Collector]()
ISOLATION = pytest.StashKey[str]()
ROLLOUT = pytest.StashKey[Rollout]()
TRAJECTORY = pytest.StashKey[Any]()  # the solution a [solution-*] item plays, loaded once
JUDGE = pytest.StashKey[Any]()  # the item's Judge, when its grader asked for the judge fixture
JUDGE_BACKEND = pytest.StashKey[Any]()
EARLY_STOP = pytest.StashKey[Any]()  # this process's run outcomes (schedule.EarlyStop)
STOPPED = pytest.StashKey[tuple[str, int]]()  # on an item skipped as decided: (verdict, after run k)
RESUMED = pytest.StashKey[str]()  # on a run re-graded from an earlier transcript (--rl-resume): its path
CASE_FIXTURE = "_rltask_case"
LIVE_AGENTS = ("anthropic", "openai")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    _settings.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "offline: needs no agent API (shipped-solution grader checks, plugin tests); judge-backed graders ask "
        "the judge only where one is configured",
    )
    config.addinivalue_line(
        "markers",
        "rltask(task=None, runs=None, band=None, min_runs=None, max_steps=None, time_limit=None, max_tokens=None): "
        "per-task overrides of the rollout settings",
    )
    s = _settings.resolve(config)
    config.stash[SETTINGS] = s
    from .schedule import EarlyStop

    config.stash[EARLY_STOP] = EarlyStop()
    if not hasattr(config, "workerinput"):
        config.stash[COLLECTOR] = Collector(s.band, s.min_runs, s.confidence)
        if s.isolation == "auto":
            from .sandbox import detect

            config.stash[ISOLATION] = detect()
        else:
            config.stash[ISOLATION] = s.isolation
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "rltask-xdist")


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SETTINGS]
    iso = config.stash.get(ISOLATION, s.isolation)
    rule = f"sprt@{s.confidence}" if s.confidence is not None else "fixed"
    return (
        f"rltask: agent={s.agent} model={s.model_for(s.agent) or '-'} runs={s.runs} "
        f"band={s.band[0]:.2f}-{s.band[1]:.2f} isolation={iso} rule={rule} "
        f"early-stop={'on' if s.stops_early else 'off'}"
    )


# -- collection: a task test becomes run-/solution- items ------------------------------------
def _task_of(obj: Any, marker: pytest.Mark | None) -> Task | None:
    if marker is not None and marker.kwargs.get("task") is not None:
        return marker.kwargs["task"]
    return getattr(obj, "TASK", None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rollout" not in metafunc.fixturenames:
        return
    s = metafunc.config.stash[SETTINGS]
    marker = metafunc.definition.get_closest_marker("rltask")
    ts = s.for_task(marker)
    task = _task_of(metafunc.module, marker)
    if not isinstance(task, Task):
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} uses the rollout fixture but its module has no TASK = Task(...) "
            "(or @pytest.mark.rltask(task=...))"
        )
    params = [pytest.param(Case("run", i), id=f"run-{i}") for i in range(1, ts.runs + 1)]
    for i, path in enumerate(solutions_of(task, Path(metafunc.module.__file__))):
        case = Case("solution", i, path)
        params.append(pytest.param(case, id=case.id, marks=pytest.mark.offline))
    metafunc.parametrize(CASE_FIXTURE, params, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Rollout items are never retried: a retried rollout would count its luckiest attempt."""
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    for item in items:
        if _case_of(item) is not None and _case_of(item).kind == "run":
            item.add_marker(pytest.mark.flaky(reruns=0))


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or CASE_FIXTURE not in callspec.params:
        return None
    return callspec.params[CASE_FIXTURE]


def _plan(item: pytest.Item) -> Any:
    from .sequential import Plan

    s = item.config.stash[SETTINGS]
    ts = s.for_task(item.get_closest_marker("rltask"))
    return Plan(ts.band, ts.runs, ts.min_runs, s.confidence)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a run whose task is decided by the earlier runs (early stop), and any retry of a run."""
    case = _case_of(item)
    if case is None or case.kind != "run":
        return
    if getattr(item, "execution_count", 1) > 1:
        pytest.skip("rltask: rollout items are never retried; the first attempt counts")
    s = item.config.stash[SETTINGS]
    if not s.stops_early:
        return
    decided = item.config.stash[EARLY_STOP].decided(task_id(item.nodeid), case.index, _plan(item))
    if decided is not None:
        item.stash[STOPPED] = decided
        pytest.skip(f"rltask early stop: {decided[0]} is decided after {decided[1]} run(s)")


def pytest_collection_finish(session: pytest.Session) -> None:
    if COLLECTOR in session.config.stash:
        session.config.stash[COLLECTOR].expect([i.nodeid for i in session.items])


class _XdistHooks:
    """Only registered when xdist is present: the controller learns what workers collected."""

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """With early stop, each task's runs go whole and in order to one worker (see schedule.py)."""
        s = config.stash.get(SETTINGS, None)
        if s is None or not s.stops_early or config.getvalue("dist") not in ("load", "loadgroup", "worksteal"):
            return None
        from .schedule import make_scheduler

        return make_scheduler(config, log)

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        collector = node.config.stash.get(COLLECTOR, None)
        if collector is not None:
            collector.expect(list(ids))


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def _rltask_case(request: pytest.FixtureRequest) -> Case:
    return request.param


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


@pytest.fixture
def rollout(request: pytest.FixtureRequest, _rltask_case: Case) -> Iterator[Rollout]:
    """Play the configured agent (or a shipped solution) on this task and hand the result to the grader."""
    from .agents.base import AgentError, get_agent
    from .sandbox import detect
    from .regrade import is_recorded, pick, resumable
    from .task import fixed_instance, new_instance, play
    from .transcript import Transcript, load_trajectory

    config = request.config
    s = config.stash[SETTINGS]
    marker = request.node.get_closest_marker("rltask")
    ts = s.for_task(marker)
    task = _task_of(request.module, marker)
    case = _rltask_case
    isolation = detect() if s.isolation == "auto" else s.isolation

    tid = task_id(request.node.nodeid)
    if case.kind == "solution":
        agent_name = "replay"
        traj = load_trajectory(case.path)
        request.node.stash[TRAJECTORY] = traj
        seed = traj.seed if traj.seed is not None else 1
        # offline checks are reproducible: the solution's own instance, or one fixed per solution
        if traj.instance is not None:
            instance, instance_source = int(traj.instance), "recorded"
        else:
            instance, instance_source = fixed_instance(tid, case.path.stem), "fixed"
    else:
        agent_name = s.agent
        seed = case.index
        traj = None
        instance, instance_source = new_instance(), "secret"
        resumed = resumable(s.resume, tid, case) if s.resume is not None else None
        if resumed is not None:  # --rl-resume: a finished earlier run is re-graded, not played again
            agent_name, traj = "replay", resumed
            request.node.stash[RESUMED] = str(resumed.source)
        elif agent_name == "replay":
            try:
                traj = pick(case, tid, s.replay, solutions_of(task, Path(request.module.__file__)))
            except LookupError as e:
                raise AgentError(str(e)) from None
        if traj is not None and traj.instance is not None:
            # a recorded run is re-graded on the instance and seed it was played with
            instance, instance_source = int(traj.instance), "recorded"
        if traj is not None and is_recorded(traj) and traj.seed is not None:
            seed = int(traj.seed)
    if agent_name in LIVE_AGENTS and isolation == "none" and not s.isolation_explicit:
        raise AgentError(
            "refusing a live rollout with no sandbox: install bubblewrap (apt-get install bubblewrap) "
            "or run as root for the unshare fallback; to run agent code unisolated anyway, pass "
            "--rl-isolation none explicitly"
        )
    if "judge" in request.fixturenames:
        backend = _judge_backend(config)
        request.node.stash[JUDGE_BACKEND] = backend
        why = backend.unavailable()
        if why is not None and case.kind == "run":
            from .judge import JudgeUnavailable

            backend.close()
            # before the agent plays: no tokens are spent on a run that could not be graded
            raise JudgeUnavailable(f"this task's grader needs an LLM judge and none is available: {why}")
    options: dict[str, Any] = {"model": s.model_for(agent_name), "max_retries": s.max_retries}
    if traj is not None:
        options["trajectory"] = traj
    agent = get_agent(agent_name, **options)

    transcript = Transcript(
        s.transcripts / _slug(tid) / f"{case.id}.jsonl",
        nodeid=request.node.nodeid, task=tid, case=case.id, seed=seed, instance=instance,
        instance_source=instance_source, agent=agent_name,
        model=s.model_for(agent_name), isolation=isolation,
        source=str(traj.source) if traj is not None else None,
    )
    ov = ts.overrides
    try:
        ro = play(
            task=task, case=case, agent=agent, agent_name=agent_name, seed=seed, instance=instance,
            instance_source=instance_source, isolation=isolation,
            transcript=transcript,
            max_steps=int(ov.get("max_steps", task.max_steps)),
            max_tokens=int(ov.get("max_tokens", task.max_tokens)),
            time_limit=float(ov.get("time_limit", task.time_limit)),
        )
    except BaseException:
        transcript.close()
        backend = request.node.stash.get(JUDGE_BACKEND, None)
        if backend is not None:
            backend.close()
        raise
    request.node.stash[ROLLOUT] = ro
    try:
        yield ro
    finally:
        transcript.close()
        shutil.rmtree(ro.workspace, ignore_errors=True)


def _judge_backend(config: pytest.Config) -> Any:
    from .judge import get_backend

    s = config.stash[SETTINGS]
    return get_backend(s.judge, model=s.judge_model_for(s.judge), max_retries=s.max_retries)


@pytest.fixture
def judge(request: pytest.FixtureRequest, rollout: Rollout) -> Iterator[Any]:
    """An LLM judge for this run's grader: ``judge.grade(text, rubric)`` returns a checked Verdict.

    Its exchanges go into the run's transcript. Without a configured backend a live run is an
    error (found before the agent plays); a shipped solution is graded by its deterministic part.
    """
    from .judge import Judge

    backend = request.node.stash.get(JUDGE_BACKEND, None) or _judge_backend(request.config)
    j = Judge(backend, rollout.transcript)
    request.node.stash[JUDGE] = j
    try:
        yield j
    finally:
        backend.close()


# -- running: undelivered rollouts fail before the grader runs -----------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    ro = item.stash.get(ROLLOUT, None)
    if ro is not None and ro.status != "submitted" and ro.task.require_submission:
        raise RolloutFailure(ro.status, f"the agent did not submit (rollout ended: {ro.status}, {ro.steps} steps)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    rep = yield
    case = _case_of(item)
    if case is None:
        return rep
    s = item.config.stash[SETTINGS]
    ts = s.for_task(item.get_closest_marker("rltask"))
    attempt = int(getattr(item, "execution_count", 1) or 1)
    if rep.when == "setup" and rep.outcome == "skipped" and case.kind == "run":
        stopped = item.stash.get(STOPPED, None)
        if stopped is not None or attempt > 1:
            rep.rltask = {
                "task": task_id(item.nodeid), "case": case.id, "kind": case.kind, "index": case.index,
                "planned": ts.runs, "band": list(ts.band), "min_runs": ts.min_runs, "attempt": attempt,
                "outcome": "skipped", "skipped": "early_stop" if stopped is not None else "retry",
                "decided": None if stopped is None else stopped[0],
            }
            if stopped is not None:
                item.config.stash[EARLY_STOP].record(task_id(item.nodeid), case.index, "skipped")
        return rep
    if rep.when == "setup" and rep.outcome != "failed":
        return rep
    if rep.when == "teardown" and rep.outcome != "failed":
        return rep
    exc = call.excinfo.value if call.excinfo is not None else None
    judge = item.stash.get(JUDGE, None)
    if rep.when == "call":
        outcome, category, message = classify(exc)
        if judge is not None:
            outcome, category, message = _judge_outcome(judge, case, exc, outcome, category, message)
    else:  # a failed setup or teardown: the harness, the API or the sandbox broke
        outcome, category = "error", type(exc).__name__ if exc else "harness"
        message = f"{type(exc).__name__}: {exc}"[:500] if exc else ""
    ro = item.stash.get(ROLLOUT, None)
    record: dict[str, Any] = {
        "task": task_id(item.nodeid), "case": case.id, "kind": case.kind,
        "outcome": outcome, "category": category, "message": message,
        "band": list(ts.band), "min_runs": ts.min_runs,
        "index": case.index, "planned": ts.runs, "attempt": attempt,
    }
    if case.kind == "run" and attempt == 1:
        item.config.stash[EARLY_STOP].record(task_id(item.nodeid), case.index, outcome)
    if ro is not None:
        record.update(
            seed=ro.seed, instance_source=ro.instance_source, status=ro.status, steps=ro.steps, tool_calls=ro.tool_calls,
            seconds=round(ro.seconds + ro.grade_seconds, 3), agent=ro.agent, isolation=ro.isolation,
            answer=None if ro.answer is None else ro.answer[:200], scores=dict(ro.scores),
            tokens={k: v for k, v in vars(ro.usage).items() if v},
            transcript=str(ro.transcript.path) if ro.transcript.path else None,
        )
        if RESUMED in item.stash:
            record["regraded_from"] = item.stash[RESUMED]
        if judge is not None and rep.when == "call":
            record["judge"] = js = judge.summary()
            record["parts"] = _parts(js["state"], outcome)
            for k, v in (js.get("tokens") or {}).items():
                record["tokens"][f"judge_{k}"] = v
        ro.transcript.event("outcome", outcome=outcome, category=category, message=message, scores=ro.scores,
                            parts=record.get("parts"))
    if case.kind == "solution" and rep.when == "call":
        _check_expectation(rep, case, item.stash[TRAJECTORY], record)
    elif outcome == "failed" and rep.outcome == "skipped":
        rep.outcome = "failed"  # skip/xfail raised by a grader is a failure
        rep.longrepr = f"[{category}] {message}"
        if hasattr(rep, "wasxfail"):
            del rep.wasxfail
    if rep.when == "setup" and _is_judge_unavailable(exc):  # a live run refused before play: say so
        record["parts"] = {"deterministic": "not_reached", "judge": "not_run"}
        record["judge"] = {"backend": s.judge, "model": s.judge_model_for(s.judge), "reason": str(exc)[:300]}
    if ro is not None and rep.outcome == "failed":
        rep.sections.append(("rltask transcript (tail)", ro.transcript.tail()))
    if case.kind == "run" and rep.when == "call" and outcome == "failed" and rep.outcome == "failed":
        # the model's failure is a measurement, not a broken test: pytest shows it as xfailed, so
        # its final line, junitxml and the exit status agree (the gate speaks for the task)
        rep.outcome = "skipped"
        rep.wasxfail = f"[{category}] {message}"[:300]
    rep.rltask = record
    return rep


def _is_judge_unavailable(exc: BaseException | None) -> bool:
    from .judge import JudgeUnavailable

    return isinstance(exc, JudgeUnavailable)


def _judge_outcome(judge: Any, case: Case, exc: BaseException | None, outcome: str,
                   category: str | None, message: str) -> tuple[str, str | None, str]:
    """A grader stopped by a missing judge: a solution keeps its deterministic verdict; a run errs."""
    if not _is_judge_unavailable(exc):
        return outcome, category, message
    if case.kind == "solution":
        return "passed", None, f"deterministic part only; judge not run: {exc}"[:500]
    return "error", "JudgeUnavailable", str(exc)[:500]


def _parts(state: str, outcome: str) -> dict[str, str]:
    """Which parts of a judge-backed grader ran, and what each decided."""
    if state == "not_reached":  # a deterministic check decided before the judge was asked
        return {"deterministic": outcome, "judge": "not_reached"}
    if state == "screened":
        return {"deterministic": "failed", "judge": "not_reached"}
    if state == "not_run":
        return {"deterministic": "passed", "judge": "not_run"}
    if state == "error":
        return {"deterministic": "passed", "judge": "error"}
    return {"deterministic": "passed", "judge": outcome}


def _want(traj: Any) -> str:
    if traj.expect == "fail":
        return f"fail with category {traj.category!r}" if traj.category else "fail"
    return "pass"


def _check_expectation(rep: pytest.TestReport, case: Case, traj: Any, record: dict[str, Any]) -> None:
    """A solution item passes when the grader's outcome is the one the trajectory declares.

    Without a judge, a solution that only the judge can reject (``"decided_by": "judge"``) must get
    through the deterministic part; any other must be decided there.
    """
    got, cat = record["outcome"], record["category"]
    record["expect"], record["expect_category"] = traj.expect, traj.category
    if got == "error":
        return  # the grader or harness broke: leave pytest's failure in place
    if (record.get("parts") or {}).get("judge") == "not_run" and traj.expect == "fail":
        if traj.decided_by == "judge":
            rep.outcome, rep.longrepr = "passed", None
        else:
            rep.outcome = "failed"
            rep.longrepr = (f"solution {case.path.name} should {_want(traj)} in the deterministic part, but it got "
                            f"through to the judge, which is not available here\n({traj.note})")
        return
    if traj.expect == "pass":
        ok, want = got == "passed", _want(traj)
    elif traj.expect == "fail":
        ok, want = got == "failed" and (traj.category is None or traj.category == cat), _want(traj)
    else:
        ok, want = False, "an 'expect' of pass or fail"
    if ok:
        rep.outcome, rep.longrepr = "passed", None
        if hasattr(rep, "wasxfail"):
            del rep.wasxfail
    else:
        detail = f"grader said {got}" + (f" [{cat}] {record['message']}" if got == "failed" else "")
        if traj.decided_by == "judge" and traj.expect == "fail" and got == "passed":
            detail += " (the judge accepted a solution it must reject)"
        rep.outcome = "failed"
        rep.longrepr = f"solution {case.path.name} should {want}, but {detail}\n({traj.note})"


# -- aggregation on the controller ----------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    collector = session.config.stash.get(COLLECTOR, None)
    if collector is not None:
        session.config.pluginmanager.register(_ControllerHooks(session.config, collector), "rltask-controller")


class _ControllerHooks:
    """Lives only where results arrive (the xdist controller, or the one process at -n 0)."""

    def __init__(self, config: pytest.Config, collector: Collector) -> None:
        self.config = config
        self.collector = collector
        self.lines: list[str] = []
        self.judge_lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "rltask", None)
        longrepr = str(report.longrepr) if report.longrepr is not None and report.failed else ""
        self.collector.add(report.nodeid, report.when, report.outcome, record, longrepr)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .gate import publish
        from .report import as_json, header, judge_lines, table, write_json

        if self.config.option.collectonly:
            return  # nothing ran: no report, no gate (--collect-only keeps pytest's own status)
        s = self.config.stash[SETTINGS]
        head = header(self.collector, s.agent, s.model_for(s.agent),
                      self.config.stash.get(ISOLATION, s.isolation))
        head.update(rule="fixed" if s.confidence is None else "sprt", confidence=s.confidence,
                    early_stop=s.stops_early)
        data = as_json(self.collector, head)
        if "judge" in data:
            data["judge"] = {"backend": s.judge, "model": s.judge_model_for(s.judge), **data["judge"]}
        if s.report is not None:
            write_json(s.report, data)
        self.judge_lines = judge_lines(self.collector, s.judge, s.judge_model_for(s.judge))
        if not self.collector.active:
            return  # no rollouts: no gate
        self.config.hook.pytest_rltask_report(config=self.config, report=data)
        self.lines = table(self.collector, head)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            ok = self.collector.verdict() == "pass"
            session.exitstatus = pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED
            publish(self.config, self.collector)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.judge_lines:
            terminalreporter.section("rltask judge")
            for line in self.judge_lines:
                terminalreporter.write_line(line)
        if self.lines:
            terminalreporter.section("rltask pass rates")
            for line in self.lines:
                terminalreporter.write_line(line)
