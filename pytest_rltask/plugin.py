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
ENGINE = pytest.StashKey[Any]()  # this process's rollout engine, made on first use
OWN_RUNS = pytest.StashKey[dict]()  # task id -> its run items in this process, for prefetching
SESSION_DIR = pytest.StashKey[str]()  # the session's budget folder (made by the controller)
PREV_BUDGETS = pytest.StashKey[dict]()  # the budgets this session replaced (an outer pytester session's)
PLANNED = pytest.StashKey[dict]()  # node id -> the rollout args the engine was given
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
    _start_budgets(config, s)
    from .schedule import EarlyStop

    config.stash[EARLY_STOP] = EarlyStop()
    if not hasattr(config, "workerinput"):
        config.stash[COLLECTOR] = Collector(s.band, s.min_runs, s.confidence)
        if s.isolation == "auto":
            from .sandbox import detect

            config.stash[ISOLATION] = detect()  # "none" here: every rollout is refused, with the reasons
        else:
            config.stash[ISOLATION] = s.isolation
    if s.image:  # every process (xdist workers too) hands the image to the docker backend
        from .sandbox import docker as _docker

        _docker.configure(s.image)
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


def _start_budgets(config: pytest.Config, s: _settings.Settings) -> None:
    """The session's CPU and request budgets: a folder the controller makes and workers share."""
    import tempfile

    from . import budget

    winput = getattr(config, "workerinput", None)
    folder = winput.get("rltask_session_dir") if winput is not None else None
    if folder is None:
        folder = tempfile.mkdtemp(prefix="rltask-session-")
        config.stash[SESSION_DIR] = folder
    config.stash[PREV_BUDGETS] = budget.configure(Path(folder), cpu=None, requests=s.concurrency)


def pytest_unconfigure(config: pytest.Config) -> None:
    from . import budget

    if PREV_BUDGETS in config.stash:
        budget.restore(config.stash[PREV_BUDGETS])
    eng = config.stash.get(ENGINE, None)
    if eng is not None:
        def discard(ro: Rollout) -> None:  # played for an item that did not run (e.g. -x): clean up
            ro.transcript.close()
            ro.close()
            shutil.rmtree(ro.workspace, ignore_errors=True)

        eng.close(discard)
    folder = config.stash.get(SESSION_DIR, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _stop_session(config: pytest.Config, why: str) -> None:
    """Stop starting items: at -n 0 through the session, under xdist through its controller."""
    dsession = config.pluginmanager.getplugin("dsession")
    if dsession is not None:
        dsession.shouldstop = why
    session = getattr(config, "_rltask_session", None)
    if session is not None:
        session.shouldstop = why


def _stopped(session: pytest.Session) -> str | None:
    """Why the session ended before every selected item ran (-x, --maxfail, an interrupt), if it did."""
    for why in (session.shouldstop, session.shouldfail):
        if why:
            return str(why)
    dsession = session.config.pluginmanager.getplugin("dsession")
    if dsession is not None and getattr(dsession, "shouldstop", None):
        return str(dsession.shouldstop)
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    return None


def _grouped(config: pytest.Config) -> bool:
    """Whether the controller sends tasks whole (xdist's load-balancing modes; not each/loadfile)."""
    return config.getvalue("dist") in ("load", "loadgroup", "worksteal")


class _XdistHooks:
    """Only registered when xdist is present: the controller learns what workers collected,
    sends each task's run items whole to one worker, and hands workers the session's budgets."""

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """Each task's runs go whole and in run order to one worker (see schedule.py), so that its
        engine knows its own rollouts and early stop decides the same at any -n."""
        if not _grouped(config):
            return None
        from .schedule import make_scheduler

        return make_scheduler(config, log)

    def pytest_configure_node(self, node: Any) -> None:
        folder = node.config.stash.get(SESSION_DIR, None)
        if folder is not None:
            node.workerinput["rltask_session_dir"] = folder
        node.workerinput["rltask_grouped"] = _grouped(node.config)

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


def _rollout_args(item: pytest.Item) -> dict[str, Any]:
    """Everything a rollout of ``item`` needs, decided before it plays (raises what setup reports).

    The instance is drawn here, once per item. Nothing is written to the item's stash, so the
    engine can plan other items of the task ahead of their own setup.
    """
    from .agents.base import AgentError
    from .sandbox import detect
    from .regrade import is_recorded, pick, resumable
    from .task import fixed_instance, new_instance
    from .transcript import load_trajectory

    config = item.config
    s = config.stash[SETTINGS]
    marker = item.get_closest_marker("rltask")
    ts = s.for_task(marker)
    module = item.module  # type: ignore[attr-defined]
    task = _task_of(module, marker)
    case: Case = item.callspec.params[CASE_FIXTURE]  # type: ignore[attr-defined]
    isolation = detect() if s.isolation == "auto" else s.isolation
    tid = task_id(item.nodeid)
    resumed = None
    if case.kind == "solution":
        agent_name = "replay"
        traj = load_trajectory(case.path)
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
        elif agent_name == "replay":
            try:
                traj = pick(case, tid, s.replay, solutions_of(task, Path(module.__file__)))
            except LookupError as e:
                raise AgentError(str(e)) from None
        if traj is not None and traj.instance is not None:
            # a recorded run is re-graded on the instance and seed it was played with
            instance, instance_source = int(traj.instance), "recorded"
        if traj is not None and is_recorded(traj) and traj.seed is not None:
            seed = int(traj.seed)
    if not (isolation == "none" and s.isolation_explicit):  # never unsandboxed by accident
        from .sandbox import SandboxError, refusal

        why = refusal(s.isolation if s.isolation != "none" else "auto")
        if why is not None:  # live, replayed or shipped: agent-written code runs only in a sandbox
            raise SandboxError(why)
    if "judge" in item.fixturenames and case.kind == "run":  # type: ignore[attr-defined]
        backend = _judge_backend(config)
        why = backend.unavailable()
        backend.close()
        if why is not None:
            from .judge import JudgeUnavailable

            # before the agent plays: no tokens are spent on a run that could not be graded
            raise JudgeUnavailable(f"this task's grader needs an LLM judge and none is available: {why}")
    ov = ts.overrides
    return dict(
        task=task, case=case, agent_name=agent_name, seed=seed, instance=instance,
        instance_source=instance_source, isolation=isolation, traj=traj,
        max_steps=int(ov.get("max_steps", task.max_steps)),
        max_tokens=int(ov.get("max_tokens", task.max_tokens)),
        time_limit=float(ov.get("time_limit", task.time_limit)),
        transcript_path=s.transcripts / _slug(tid) / f"{case.id}.jsonl",
        nodeid=item.nodeid, tid=tid, model=s.model_for(agent_name), max_retries=s.max_retries,
        resumed=str(resumed.source) if resumed is not None else None,
    )


def _rollout_coroutine(args: dict[str, Any]) -> Any:
    """The rollout of one planned item, as a coroutine: builds its agent and transcript first."""
    from .agents.base import get_agent
    from .task import play_async
    from .transcript import Transcript

    async def run() -> Rollout:
        traj = args["traj"]
        options: dict[str, Any] = {"model": args["model"], "max_retries": args["max_retries"]}
        if traj is not None:
            options["trajectory"] = traj
        agent = get_agent(args["agent_name"], **options)
        transcript = Transcript(
            args["transcript_path"], nodeid=args["nodeid"], task=args["tid"], case=args["case"].id,
            seed=args["seed"], instance=args["instance"], instance_source=args["instance_source"],
            agent=args["agent_name"], model=args["model"], isolation=args["isolation"],
            source=str(traj.source) if traj is not None else None,
        )
        try:
            return await play_async(
                task=args["task"], case=args["case"], agent=agent, agent_name=args["agent_name"],
                seed=args["seed"], instance=args["instance"], instance_source=args["instance_source"],
                isolation=args["isolation"], transcript=transcript, max_steps=args["max_steps"],
                max_tokens=args["max_tokens"], time_limit=args["time_limit"],
            )
        except BaseException:
            transcript.close()
            raise

    return run()


def _own_run_items(item: pytest.Item) -> list[pytest.Item]:
    """The run items of ``item``'s task that this process will run, in run order (for prefetching).

    At -n 0 that is every selected run item of the task. Under xdist only when the controller
    sends each task whole to one worker (``rltask_grouped`` in the worker's input); otherwise
    none, so no worker ever plays another worker's item.
    """
    config = item.config
    winput = getattr(config, "workerinput", None)
    if winput is not None and not winput.get("rltask_grouped"):
        return []
    by_task = config.stash.get(OWN_RUNS, None)
    if by_task is None:
        by_task = {}
        for it in item.session.items:
            cs = getattr(it, "callspec", None)
            if cs is not None and CASE_FIXTURE in cs.params and cs.params[CASE_FIXTURE].kind == "run":
                by_task.setdefault(task_id(it.nodeid), []).append(it)
        config.stash[OWN_RUNS] = by_task
    return by_task.get(task_id(item.nodeid), [])


def _start_gate(item: pytest.Item) -> Any:
    """When the engine may start ``item``'s rollout: always, or with early stop only once no
    outcome of the runs before it could still decide its task (so no decided run is ever played)."""
    s = item.config.stash[SETTINGS]
    if not s.stops_early:
        return None
    from .schedule import start_gate

    case = _case_of(item)
    return start_gate(item.config.stash[EARLY_STOP], task_id(item.nodeid), case.index, _plan(item))


def _engine(config: pytest.Config) -> Any:
    from .engine import Engine

    eng = config.stash.get(ENGINE, None)
    if eng is None:
        eng = Engine(config.stash[SETTINGS].concurrency)
        config.stash[ENGINE] = eng
    return eng


@pytest.fixture
def rollout(request: pytest.FixtureRequest, _rltask_case: Case) -> Iterator[Rollout]:
    """Play the configured agent (or a shipped solution) on this task and hand the result to the grader.

    Run items go through the process's rollout engine, which plays the task's other own run items
    at the same time (``--rl-concurrency``); solution items play on their own, one at a time.
    """
    config = request.config
    item = request.node
    case = _rltask_case
    if "judge" in request.fixturenames:
        request.node.stash[JUDGE_BACKEND] = _judge_backend(config)
    try:
        if case.kind == "solution":
            args = _rollout_args(item)
            request.node.stash[TRAJECTORY] = args["traj"]
            import asyncio

            ro = asyncio.run(_rollout_coroutine(args))
        else:
            eng = _engine(config)
            tid = task_id(item.nodeid)
            planned = config.stash.setdefault(PLANNED, {})
            if not eng.has(item.nodeid):
                planned[item.nodeid] = args = _rollout_args(item)
                eng.submit(item.nodeid, lambda a=args: _rollout_coroutine(a), group=tid)
                for other in _own_run_items(item):
                    if eng.has(other.nodeid) or other.nodeid == item.nodeid:
                        continue
                    try:
                        planned[other.nodeid] = oargs = _rollout_args(other)
                    except Exception:  # noqa: BLE001 - that item's own setup reports it
                        continue
                    eng.submit(other.nodeid, lambda a=oargs: _rollout_coroutine(a), group=tid,
                               gate=_start_gate(other))
            resumed = (planned.get(item.nodeid) or {}).get("resumed")
            if resumed:
                request.node.stash[RESUMED] = resumed
            ro = eng.result(item.nodeid)
    except BaseException:
        backend = request.node.stash.get(JUDGE_BACKEND, None)
        if backend is not None:
            backend.close()
        raise
    request.node.stash[ROLLOUT] = ro
    try:
        yield ro
    finally:
        ro.transcript.close()
        ro.close()
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
    if ro is not None and case.kind == "run" and outcome != "passed":
        record["tail"] = ro.transcript.tail(n=6, width=160)[-3000:]  # for the summary's block per run
    if (case.kind == "run" and rep.when == "setup" and rep.outcome == "failed"
            and item.config.getoption("tbstyle", "auto") not in ("long", "native")):
        # the harness, the API or the sandbox could not start this run: say what and how to fix it,
        # without the frames of pytest, contextlib and this plugin (--tb=long shows them)
        rep.longrepr = f"rltask error [{category}] {message}"
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
    session.config._rltask_session = session  # type: ignore[attr-defined]  # for --rl-max-cost
    if collector is not None:
        session.config.pluginmanager.register(_ControllerHooks(session.config, collector), "rltask-controller")


class _ControllerHooks:
    """Lives only where results arrive (the xdist controller, or the one process at -n 0)."""

    def __init__(self, config: pytest.Config, collector: Collector) -> None:
        from .cost import PriceTable

        self.config = config
        self.collector = collector
        self.lines: list[str] = []
        self.judge_lines: list[str] = []
        s = config.stash[SETTINGS]
        self.prices = PriceTable.load(s.prices)
        self.spent = 0.0
        self.stop_reason: str | None = None

    def _cost_of(self, record: dict[str, Any]) -> float | None:
        s = self.config.stash[SETTINGS]
        agent = record.get("agent") or s.agent
        return self.prices.cost(record.get("tokens") or {}, s.model_for(agent) if agent in LIVE_AGENTS else None,
                                s.judge_model_for(s.judge))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "rltask", None)
        longrepr = str(report.longrepr) if report.longrepr is not None and report.failed else ""
        self.collector.add(report.nodeid, report.when, report.outcome, record, longrepr)
        s = self.config.stash[SETTINGS]
        if record is not None and s.max_cost is not None and report.when in ("call", "setup"):
            self.spent += self._cost_of(record) or 0.0
            if self.spent > s.max_cost and self.stop_reason is None:
                self.stop_reason = f"--rl-max-cost ${s.max_cost:g} reached: ${self.spent:,.4f} spent"
                _stop_session(self.config, f"rltask: {self.stop_reason}; runs not played fail the gate")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .gate import publish
        from .report import as_json, header, judge_lines, table, write_json

        if self.config.option.collectonly:
            return  # nothing ran: no report, no gate (--collect-only keeps pytest's own status)
        s = self.config.stash[SETTINGS]
        self.collector.stopped = self.stop_reason or _stopped(session)
        head = header(self.collector, s.agent, s.model_for(s.agent),
                      self.config.stash.get(ISOLATION, s.isolation))
        head.update(rule="fixed" if s.confidence is None else "sprt", confidence=s.confidence,
                    early_stop=s.stops_early)
        data = as_json(self.collector, head)
        if "judge" in data:
            data["judge"] = {"backend": s.judge, "model": s.judge_model_for(s.judge), **data["judge"]}
        runs = self._runs()
        costs = self._task_costs(data, runs)
        data["concurrency"] = s.concurrency
        if costs:
            from .report import total_cost

            data["cost"] = total_cost(costs)
        recorded = [r for r in runs if r.get("recorded_tokens")]
        if recorded:  # a dry run over recorded live runs: what those runs cost when they were played
            priced = [r["recorded_cost"] for r in recorded]
            data["estimated_live_cost"] = None if None in priced else round(sum(priced), 6)
            data["estimated_from_runs"] = len(recorded)
        if s.report is not None:
            write_json(s.report, data)
        if s.html is not None:
            from . import html

            html.write(s.html, data, runs)
        if self.collector.active:
            from . import markdown

            if s.markdown is not None:
                markdown.write(s.markdown, data)
            markdown.append_github_summary(data)
        self.judge_lines = judge_lines(self.collector, s.judge, s.judge_model_for(s.judge))
        if not self.collector.active:
            return  # no rollouts: no gate
        self.config.hook.pytest_rltask_report(config=self.config, report=data)
        self.lines = table(self.collector, head, costs)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            ok = self.collector.verdict() == "pass"
            session.exitstatus = pytest.ExitCode.OK if ok else pytest.ExitCode.TESTS_FAILED
            publish(self.config, self.collector)

    def _runs(self) -> list[dict[str, Any]]:
        """Every run's record, with its cost and, for a replayed recording, what it cost live."""
        from .cost import recorded_tokens

        out = []
        for nodeid in sorted(self.collector.expected | set(self.collector.results)):
            rec = dict(self.collector.results.get(nodeid) or {"task": task_id(nodeid), "outcome": "not played",
                                                              "case": nodeid.rsplit("[", 1)[-1].rstrip("]")})
            rec["nodeid"] = nodeid
            rec["cost"] = self._cost_of(rec) if rec.get("tokens") else None
            recorded = recorded_tokens(rec.get("transcript"))
            if recorded:
                s = self.config.stash[SETTINGS]
                rec["recorded_tokens"] = recorded
                rec["recorded_cost"] = self.prices.cost(recorded, recorded.pop("_model", None) or s.model,
                                                        s.judge_model_for(s.judge))
            out.append(rec)
        return out

    def _task_costs(self, data: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, float | None]:
        """Cost per task (None: a model without a price); empty when no run used any tokens."""
        costs: dict[str, float | None] = {}
        for r in runs:
            if not r.get("tokens"):
                continue
            tid = r["task"]
            c = r.get("cost")
            costs[tid] = None if c is None or costs.get(tid, 0.0) is None else round(costs.get(tid, 0.0) + c, 6)
        for tid, c in costs.items():
            if tid in data["tasks"]:
                data["tasks"][tid]["cost"] = c
        return costs

    def _failure_blocks(self, verbosity: int, limit: int = 20) -> list[str]:
        """One short block per run that did not pass: what, why, the transcript's tail and path."""
        bad = [(n, r) for n, r in sorted(self.collector.results.items())
               if r.get("outcome") in ("failed", "error") and r.get("skipped") != "early_stop"]
        lines: list[str] = []
        for nodeid, r in bad[:limit]:
            cat = r.get("category") or "-"
            lines.append(f"{r.get('outcome', '?').upper()} {nodeid}  [{cat}] {(r.get('message') or '')[:200]}")
            tail = [ln for ln in str(r.get("tail") or "").splitlines() if not ln.startswith("(full transcript")]
            lines += ["    " + ln for ln in tail[-(12 if verbosity > 0 else 6):]]
            if r.get("transcript"):
                lines.append(f"    transcript: {r['transcript']}")
        if len(bad) > limit:
            lines.append(f"... {len(bad) - limit} more; every run is in the JSON report (--rl-report) and "
                         "the HTML report (--rl-html)")
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        verbosity = self.config.getoption("verbose", 0)
        if self.lines and verbosity >= 0:
            blocks = self._failure_blocks(verbosity)
            if blocks:
                terminalreporter.section("rltask runs that did not pass")
                for line in blocks:
                    terminalreporter.write_line(line)
        if self.judge_lines:
            terminalreporter.section("rltask judge")
            for line in self.judge_lines:
                terminalreporter.write_line(line)
        if self.lines:
            terminalreporter.section("rltask pass rates")
            for line in self.lines:
                terminalreporter.write_line(line)
