"""Never unsandboxed by accident: with no working sandbox every rollout is refused, naming the
probe's own error and the fix, unless ``--rl-isolation none`` is given; errored runs leave no
workspace; the interpreter is found inside the sandbox whatever path started it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rltask.sandbox import detect

REPO = Path(__file__).resolve().parents[1]

TASK = '''
from pytest_rltask import Task

TASK = Task(prompt="run code", tools=["write_file", "run_python", "submit_answer"], max_steps=4)

def test_code(rollout):
    assert rollout.answer == "ok"
'''
# a replayed solution that writes a file where only an unsandboxed run could: the host's /tmp
TRAJ = {
    "steps": [
        {"tool": "write_file", "input": {"path": "x.py", "content": "open('/tmp/{marker}', 'w').write('escaped')"}},
        {"tool": "run_python", "input": {"path": "x.py"}},
        {"tool": "submit_answer", "input": {"answer": "ok"}},
    ],
    "expect": "pass", "note": "writes a marker on the host when unsandboxed",
}
REFUSED_BY_KERNEL = "bwrap: setting up uid map: Permission denied (fake, from test_sandbox_refusal)"


@pytest.fixture
def task(pytester: pytest.Pytester, tmp_path: Path):
    marker = "rltask-refusal-" + os.urandom(6).hex()
    pytester.makepyfile(test_code=TASK)
    sol = pytester.mkdir("solutions")
    (sol / "writes.json").write_text(json.dumps(TRAJ).replace("{marker}", marker))
    yield pytester, Path("/tmp") / marker
    Path("/tmp", marker).unlink(missing_ok=True)


@pytest.fixture
def no_sandbox(monkeypatch, tmp_path: Path) -> Path:
    """bwrap and unshare that exist but refuse, as on a kernel without user namespaces."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "bwrap").write_text(
        "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'bubblewrap 0.8.0'; exit 0; }\n"
        f"echo '{REFUSED_BY_KERNEL}' >&2\nexit 1\n")
    (fake / "unshare").write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted (fake)' >&2\nexit 1\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    return fake


def test_offline_solution_is_refused_with_the_probes_own_error(task, no_sandbox) -> None:
    pytester, marker = task
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline")
    res.assert_outcomes(errors=1)
    out = res.stdout.str()
    assert "refusing to run agent-written code without a sandbox" in out
    assert "setting up uid map: Permission denied" in out  # the probe's own words, not a guess
    assert "--rl-isolation none" in out
    assert not marker.exists(), "agent code ran on the host"


def test_replayed_run_is_refused_too(task, no_sandbox) -> None:
    pytester, marker = task
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--rl-agent", "replay", "--rl-runs", "1",
                                        "--rl-min-runs", "1", "-k", "run-")
    res.assert_outcomes(errors=1, failed=1)  # the run's error, and its task's band gate (not measured)
    assert "refusing to run agent-written code without a sandbox" in res.stdout.str()
    assert not marker.exists()


def test_explicit_none_runs_unsandboxed(task, no_sandbox) -> None:
    pytester, marker = task
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline", "--rl-isolation", "none")
    res.assert_outcomes(passed=1)
    assert marker.exists()  # the opt-in is real: this is what the refusal protects against


def test_named_backend_that_does_not_work_is_refused(task, no_sandbox) -> None:
    pytester, marker = task
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline", "--rl-isolation", "bubblewrap")
    res.assert_outcomes(errors=1)
    assert "Permission denied" in res.stdout.str()
    assert not marker.exists()


def test_errored_runs_leave_no_workspace(pytester: pytest.Pytester, tmp_path: Path, monkeypatch) -> None:
    """A task whose files() raises after writing, and a sandbox that cannot start: nothing remains."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    pytester.makepyfile(test_code='''
from pytest_rltask import Task

def files(ws, instance):
    (ws / "data.txt").write_text("x")
    raise RuntimeError("task files broke")

TASK = Task(prompt="p", tools=["submit_answer"], files=files)

def test_code(rollout):
    pass
''')
    sol = pytester.mkdir("solutions")
    (sol / "a.json").write_text(json.dumps({"steps": [{"tool": "submit_answer", "input": {"answer": "x"}}],
                                            "expect": "pass", "note": "n"}))
    monkeypatch.setenv("TMPDIR", str(tmp))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "offline")
    res.assert_outcomes(errors=1)
    assert "task files broke" in res.stdout.str()
    assert [p.name for p in tmp.iterdir() if p.name.startswith("rltask-ws-")] == []


@pytest.mark.skipif(detect() == "none", reason="no sandbox backend works on this machine")
def test_interpreter_started_through_dotdot_path_still_sandboxes(tmp_path: Path) -> None:
    """``tasks/../.venv/bin/python``: folders before ``..`` are not mounted inside the sandbox."""
    start = REPO / "tasks"  # a folder the sandbox does not mount
    dotted = os.path.relpath(sys.executable, start)  # ../.venv/bin/python: Python keeps the ".."
    code = ("from pytest_rltask.sandbox import detect, why_none; import sys; "
            "print(detect(), why_none(), sys.executable)")
    out = subprocess.run([dotted, "-c", code], capture_output=True, text=True, cwd=start, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == detect(), out.stdout
    assert "/../" in out.stdout  # it really ran under the dotted name


def test_auto_is_refused_only_when_no_backend_works() -> None:
    from pytest_rltask.sandbox import refusal

    assert (refusal("auto") is None) == (detect() != "none")
    assert refusal("none") is None
