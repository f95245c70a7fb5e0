"""The grading protocol end to end: Rollout.run starts agent code as its own tools do, products
come back only after the sandbox's pid namespace is gone, grade() trusts only a clean exit, and
instances are secret per live rollout, recorded, and reused on re-grading."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

# The agent's program prints everything it can read about how it was started; the grader runs it
# again with rollout.run and compares. A daemon it leaves behind tries to rewrite its output later.
PROBE = r'''
import json, os, sys
info = {
    "argv": sys.argv, "flags": repr(sys.flags), "cwd": os.getcwd(), "env": dict(os.environ),
    "path": sys.path, "executable": sys.executable, "uid": os.getuid(), "gid": os.getgid(),
    "stat": [tuple(os.stat(n))[:-2] + (os.stat(n).st_mtime_ns,) for n in ("probe.py",)],
    # mount ids and anonymous device numbers are new in every exec, the agent's own ones too
    "mounts": [" ".join(l.split()[3:]) for l in open("/proc/self/mountinfo")],
    "limits": open("/proc/self/limits").read(),
    "files": sorted(n for n in os.listdir(".") if n != "prev.txt"), "ppid_cmd": open(f"/proc/{os.getppid()}/cmdline", "rb").read().hex()
    if os.path.exists(f"/proc/{os.getppid()}/cmdline") else None,
}
data = open("data.txt").read() if os.path.exists("data.txt") else ""
if os.path.exists("out.txt"):
    os.replace("out.txt", "prev.txt")
with open("out.txt", "w") as fh:
    fh.write(json.dumps({"info": info, "data": data}))
if "--daemon" in sys.argv:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            time.sleep(1.5)
            with open("out.txt", "w") as fh:
                fh.write("FORGED")
            os._exit(0)
        os._exit(0)
'''

TASK_MODULE = '''
import json
from pathlib import Path
from pytest_rltask import Task, fail

def make_workspace(ws, instance):
    (ws / "data.txt").write_text(f"public-{instance % 7}")
    Path(__file__).with_name("instances.log").open("a").write(f"{instance}\\n")

TASK = Task(prompt="p", tools=["write_file", "run_python", "submit_answer"], files=make_workspace, max_steps=6)

def test_proto(rollout):
    agent_view = json.loads((rollout.workspace / "out.txt").read_text())
    first_view = json.loads((rollout.workspace / "prev.txt").read_text())
    # what differs between the agent's own two runs is per-exec noise, not a tell of grading
    noise = {k for k in agent_view["info"] if agent_view["info"][k] != first_view["info"][k]}
    assert noise <= {"files"}, f"the agent's own runs differ in {noise}"
    run = rollout.run(["probe.py", *MODE_ARGS], files={"data.txt": "hidden"}, outputs=["out.txt", "nope.txt"])
    assert run.ok, run.stderr
    assert "nope.txt" in run.missing
    raw = run.file("out.txt")
    assert raw != b"FORGED", "a daemon rewrote the product after the run"
    graded = json.loads(raw)
    assert graded["data"] == "hidden"
    def delta(a, b):
        if isinstance(a, list) and isinstance(b, list):
            return ([x for x in a if x not in b][:3], [x for x in b if x not in a][:3])
        return (a, b)

    diff = {k: delta(agent_view["info"][k], graded["info"][k]) for k in graded["info"]
            if graded["info"][k] != agent_view["info"].get(k)}
    assert not diff, f"the grading run is distinguishable from the agent's run: {diff}"
    Path(__file__).with_name("seen.log").open("a").write(f"{rollout.instance} {rollout.instance_source}\\n")
'''


def trajectory(daemon: bool) -> dict:
    args = ["--daemon"] if daemon else []
    return {
        "expect": "pass", "note": "probe",
        "steps": [
            {"tool": "write_file", "input": {"path": "probe.py", "content": PROBE}},
            {"tool": "run_python", "input": {"path": "probe.py", "args": args}},
            # the second run sees the workspace as a grading run does: with the first run's output
            {"tool": "run_python", "input": {"path": "probe.py", "args": args}},
            {"tool": "submit_answer", "input": {"answer": "done"}},
        ],
    }


@pytest.fixture
def proto(pytester: pytest.Pytester) -> pytest.Pytester:
    from pytest_rltask.sandbox import detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    return pytester


@pytest.mark.parametrize("daemon", [False, True], ids=["plain", "daemon"])
def test_run_is_indistinguishable_and_final(proto: pytest.Pytester, daemon: bool) -> None:
    args = ["--daemon"] if daemon else []
    proto.makepyfile(test_proto=TASK_MODULE.replace("MODE_ARGS", repr(args)))
    sol = proto.mkdir("solutions")
    (sol / "probe.json").write_text(json.dumps(trajectory(daemon)))
    res = proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline")
    res.assert_outcomes(passed=1)


def test_live_instances_are_secret_fresh_and_recorded(proto: pytest.Pytester) -> None:
    proto.makepyfile(test_proto=TASK_MODULE.replace("MODE_ARGS", "[]"))
    sol = proto.mkdir("solutions")
    (sol / "probe.json").write_text(json.dumps(trajectory(False)))
    tdir = proto.path / "transcripts"
    res = proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not offline", "--rl-agent", "replay",
                                     "--rl-runs", "3", "--rl-min-runs", "1", "--rl-band", "0,1",
                                     f"--rl-transcripts={tdir}")
    res.assert_outcomes(passed=3)
    seen = [line.split() for line in (proto.path / "seen.log").read_text().splitlines()]
    assert len(seen) == 3 and all(src == "secret" for _, src in seen)
    instances = {int(i) for i, _ in seen}
    assert len(instances) == 3 and all(i not in (1, 2, 3) for i in instances), "instances must not be the run numbers"
    metas = [json.loads(p.read_text().splitlines()[0]) for p in sorted(tdir.rglob("run-*.jsonl"))]
    assert {m["instance"] for m in metas} == instances
    # a second session draws new instances
    (proto.path / "seen.log").unlink()
    proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not offline", "--rl-agent", "replay",
                               "--rl-runs", "3", "--rl-min-runs", "1", "--rl-band", "0,1",
                               f"--rl-transcripts={proto.path / 't2'}")
    again = {int(line.split()[0]) for line in (proto.path / "seen.log").read_text().splitlines()}
    assert not again & instances
    # re-grading a recorded transcript reuses its instance
    (proto.path / "seen.log").unlink()
    rec = sorted(tdir.rglob("run-2.jsonl"))[0]
    res = proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not offline", "--rl-agent", "replay",
                                     "--rl-runs", "1", "--rl-min-runs", "1", "--rl-band", "0,1", f"--rl-replay={rec}",
                                     f"--rl-transcripts={proto.path / 't3'}")
    res.assert_outcomes(passed=1)
    (inst, src), = [line.split() for line in (proto.path / "seen.log").read_text().splitlines()]
    assert src == "recorded" and int(inst) == json.loads(rec.read_text().splitlines()[0])["instance"]


def test_offline_instances_are_fixed(proto: pytest.Pytester) -> None:
    proto.makepyfile(test_proto=TASK_MODULE.replace("MODE_ARGS", "[]"))
    sol = proto.mkdir("solutions")
    (sol / "probe.json").write_text(json.dumps(trajectory(False)))
    for _ in range(2):
        proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline").assert_outcomes(passed=1)
    lines = (proto.path / "seen.log").read_text().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and lines[0].endswith(" fixed")


GRADE_MODULE = '''
from pytest_rltask import Task

TASK = Task(prompt="p", tools=["submit_answer"], max_steps=2)

SCRIPT = """
import json, sys
json.dump({"ok": True}, open("result.json", "w"))
sys.exit(int(sys.argv[1]))
"""

def test_grade(rollout):
    assert rollout.grade(SCRIPT, args=[rollout.answer]) == {"ok": True}
'''


def test_grade_trusts_only_a_clean_exit(proto: pytest.Pytester) -> None:
    proto.makepyfile(test_grade=GRADE_MODULE)
    sol = proto.mkdir("solutions")
    for name, code, expect in (("clean", "0", {"expect": "pass"}),
                               ("dirty", "1", {"expect": "fail", "category": "no_result"})):
        (sol / f"{name}.json").write_text(json.dumps(
            {**expect, "note": name, "steps": [{"tool": "submit_answer", "input": {"answer": code}}]}))
    proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline").assert_outcomes(passed=2)


def test_peak_rss_is_measured_outside(tmp_path: Path) -> None:
    from pytest_rltask.sandbox import create, detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    with create(tmp_path / "ws") as sb:
        small = sb.exec([sb.python_executable(), "-c", "pass"])
        big = sb.exec(["/bin/bash", "-c", "python -c 'b = bytearray(300 << 20)' & wait"])
    assert small.peak_rss is not None and big.peak_rss is not None
    assert big.peak_rss >= 300 << 20 > small.peak_rss


def _doc_blocks() -> dict[str, str]:
    """The worked example's two modules, as docs/writing-tasks.md shows them."""
    import re

    doc = (Path(__file__).parents[1] / "docs" / "writing-tasks.md").read_text()
    blocks = re.findall(r"```python\n(# tasks/linefit/(\S+)\n.*?)```", doc, re.S)
    return {name: code for code, name in blocks}


FIT_HONEST = """
import json, numpy as np
d = np.loadtxt("points.csv", delimiter=",", skiprows=1)
s, i = np.polyfit(d[:, 0], d[:, 1], 1)
json.dump({"slope": float(s), "intercept": float(i)}, open("line.json", "w"))
"""
FIT_ALT = """
import csv, json
rows = [(float(a), float(b)) for a, b in list(csv.reader(open("points.csv")))[1:]]
n = len(rows); mx = sum(r[0] for r in rows) / n; my = sum(r[1] for r in rows) / n
s = sum((x - mx) * (y - my) for x, y in rows) / sum((x - mx) ** 2 for x, _ in rows)
json.dump({"slope": s, "intercept": my - s * mx}, open("line.json", "w"))
"""
FIT_NAN = 'import json; json.dump({"slope": float("nan"), "intercept": 0.0}, open("line.json", "w"))'
FIT_DAEMON = FIT_HONEST + """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(1.0)
    json.dump({"slope": 1.0, "intercept": 2.0}, open("line.json", "w"))
"""
FIT_DETECT = FIT_HONEST + """
import os
if not os.path.exists("fit_ran_once"):   # behaves only on its own first run
    open("fit_ran_once", "w").write("1")
else:
    json.dump({"slope": 0.0, "intercept": 0.0}, open("line.json", "w"))
"""


def _fit_solution(code: str | None, expect: str, category: str | None = None, runs: int = 1) -> dict:
    steps = []
    if code is not None:
        steps.append({"tool": "write_file", "input": {"path": "fit.py", "content": code}})
        steps += [{"tool": "run_python", "input": {"path": "fit.py"}}] * runs
    steps.append({"tool": "submit_answer", "input": {"answer": "done"}})
    return {"expect": expect, "category": category, "note": expect, "steps": steps}


def test_worked_example_in_the_docs_grades_as_it_says(proto: pytest.Pytester) -> None:
    blocks = _doc_blocks()
    assert set(blocks) == {"task.py", "test_linefit.py"}
    pkg = proto.mkdir("linefit")
    (pkg / "__init__.py").write_text("")
    for name, code in blocks.items():
        (pkg / name).write_text(code)
    sol = pkg / "solutions"
    sol.mkdir()
    cases = {
        "reference": _fit_solution(FIT_HONEST, "pass"),
        "alt_pure_python": _fit_solution(FIT_ALT, "pass"),
        "fail_no_script": _fit_solution(None, "fail", "no_script"),
        "hack_nan": _fit_solution(FIT_NAN, "fail", "wrong_fit"),
        "hack_daemon_rewrites": _fit_solution(FIT_DAEMON, "pass"),  # the daemon is dead before line.json is read
        "hack_first_run_only": _fit_solution(FIT_DETECT, "fail", "wrong_fit"),
    }
    for name, data in cases.items():
        (sol / f"{name}.json").write_text(json.dumps(data))
    res = proto.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline", "linefit")
    res.assert_outcomes(passed=len(cases))
