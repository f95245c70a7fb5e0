"""Rollout.artifact: the one place graders turn an agent's file into a host path or a failure."""
from __future__ import annotations

import os

import pytest

from pytest_rltask import Task
from pytest_rltask.episode import Usage
from pytest_rltask.outcome import RolloutFailure
from pytest_rltask.task import Case, Rollout
from pytest_rltask.transcript import Transcript

pytestmark = pytest.mark.offline


@pytest.fixture
def ro(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return Rollout(task=Task(prompt="p"), seed=1, case=Case("run", 1), answer=None, status="submitted",
                   workspace=ws, transcript=Transcript(None), usage=Usage(), steps=1, tool_calls=1,
                   seconds=0.0, isolation="none", agent="replay")


def failure(call) -> tuple[str, str]:
    with pytest.raises(RolloutFailure) as e:
        call()
    return e.value.category, e.value.message


def test_a_regular_file_comes_back_as_its_path(ro):
    (ro.workspace / "model.onnx").write_bytes(b"x" * 10)
    assert ro.artifact("model.onnx", max_bytes=10) == ro.workspace / "model.onnx"


def test_missing_symlinked_directory_escaping_and_oversized_files_fail(ro, tmp_path):
    assert failure(lambda: ro.artifact("a.py", "no_script")) == ("no_script", "a.py was not written in the workspace")
    (tmp_path / "outside.py").write_text("x")
    os.symlink(tmp_path / "outside.py", ro.workspace / "link.py")
    assert failure(lambda: ro.artifact("link.py"))[0] == "no_artifact"
    (ro.workspace / "dir.py").mkdir()
    assert "not a regular file" in failure(lambda: ro.artifact("dir.py"))[1]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.py").write_text("x")
    os.symlink(tmp_path / "sub", ro.workspace / "sub")
    assert failure(lambda: ro.artifact("sub/f.py"))[1] == "sub/f.py resolves outside the workspace"
    (ro.workspace / "big.py").write_bytes(b"x" * 11)
    assert failure(lambda: ro.artifact("big.py", "interface", max_bytes=10))[0] == "interface"
    assert failure(lambda: ro.artifact("big.py", max_bytes=10, too_large="script_error"))[0] == "script_error"
