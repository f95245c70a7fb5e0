"""The replay backend: trajectories played through a real Episode and sandbox."""
from __future__ import annotations

import asyncio
import json

import pytest

from pytest_rltask import sandbox, tools
from pytest_rltask.agents import AgentError, get_agent
from pytest_rltask.agents.replay import ReplayAgent
from pytest_rltask.episode import Episode
from pytest_rltask.transcript import Trajectory, Transcript, load_trajectory

pytestmark = pytest.mark.offline

CALC = "print((2**10 + 3**5) * 7 - 100)\n"


@pytest.fixture
def make_episode(tmp_path):
    made = []

    def make(names=("write_file", "run_python", "submit_answer"), max_steps=10, path=None):
        n = len(made)
        sb = sandbox.create(tmp_path / f"ws{n}", isolation="none")
        sb.workspace.mkdir(parents=True, exist_ok=True)
        ep = Episode(prompt="compute", tools=tools.select(list(names)), sandbox=sb,
                     transcript=Transcript(path or tmp_path / f"t{n}.jsonl"), max_steps=max_steps)
        made.append(ep)
        return ep

    yield make
    for ep in made:
        ep.transcript.close()


def play(agent, ep):
    asyncio.run(agent.run(ep))


def steps(*extra):
    return [
        {"tool": "write_file", "input": {"path": "calc.py", "content": CALC}},
        {"tool": "run_python", "input": {"path": "calc.py"}},
        *extra,
    ]


def test_plays_a_trajectory_to_submission(make_episode):
    traj = Trajectory(steps=steps({"tool": "submit_answer", "input": {"answer": "8769"}},
                                  {"tool": "write_file", "input": {"path": "after.txt", "content": "x"}}),
                      expect="pass")
    ep = make_episode()
    play(get_agent("replay", trajectory=traj, model="ignored"), ep)
    assert (ep.status, ep.answer) == ("submitted", "8769")
    assert ep.steps == 3 and ep.tool_calls == 3
    assert not (ep.workspace / "after.txt").exists()  # nothing runs after the submission
    calls = [e for e in ep.transcript.events if e["type"] == "tool_call"]
    assert [c["id"] for c in calls] == ["replay-0", "replay-1", "replay-2"]
    assert "8769" in calls[1]["result"] and not calls[1]["is_error"]
    assert ep.usage.requests == 0


def test_no_submission_at_the_end(make_episode):
    ep = make_episode()
    play(ReplayAgent(Trajectory(steps=steps())), ep)
    assert ep.status == "no_submission" and ep.answer is None
    assert (ep.workspace / "calc.py").read_text() == CALC


def test_empty_trajectory_is_no_submission(make_episode):
    ep = make_episode()
    play(ReplayAgent(Trajectory(steps=[])), ep)
    assert ep.status == "no_submission" and ep.steps == 0


def test_step_budget(make_episode):
    ep = make_episode(max_steps=2)
    play(ReplayAgent(Trajectory(steps=steps({"tool": "submit_answer", "input": {"answer": "8769"}}))), ep)
    assert ep.status == "max_steps" and ep.steps == 2 and ep.answer is None


def test_bad_steps_are_tool_errors_not_crashes(make_episode):
    traj = Trajectory(steps=[
        {"tool": "write_file"},                                   # no input at all
        {"tool": "write_file", "input": None},                    # null input (recorded transcripts)
        {"tool": "bash", "input": {"command": "true"}},          # a tool this task does not offer
        {"tool": "read_file", "input": "not an object"},          # not offered either
        {"tool": "write_file", "input": {"path": "../escape.txt", "content": "x"}},
        {"tool": "submit_answer", "input": {"answer": 42}},
    ])
    ep = make_episode()
    play(ReplayAgent(traj), ep)
    calls = [e for e in ep.transcript.events if e["type"] == "tool_call"]
    assert all(c["is_error"] for c in calls[:5])
    assert "outside the workspace" in calls[4]["result"]
    assert (ep.status, ep.answer) == ("submitted", "42")


def test_missing_trajectory_is_an_agent_error(make_episode):
    with pytest.raises(AgentError, match="--rl-replay"):
        play(ReplayAgent(), make_episode())


def test_a_recorded_transcript_replays(make_episode, tmp_path):
    """Record a rollout, load the transcript as a trajectory, play it again."""
    first = make_episode(path=tmp_path / "recorded.jsonl")
    play(ReplayAgent(Trajectory(steps=steps({"tool": "submit_answer", "input": {"answer": "8769"}}))), first)
    first.transcript.close()
    traj = load_trajectory(tmp_path / "recorded.jsonl")
    assert [s["tool"] for s in traj.steps] == ["write_file", "run_python", "submit_answer"]
    again = make_episode()
    play(ReplayAgent(traj), again)
    assert (again.status, again.answer) == ("submitted", "8769")


def test_a_trajectory_file_replays(make_episode, tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps({"expect": "pass", "category": None, "note": "reference",
                                "steps": steps({"tool": "submit_answer", "input": {"answer": "8769"}})}))
    ep = make_episode()
    play(ReplayAgent(load_trajectory(path)), ep)
    assert ep.status == "submitted"
    assert ep.transcript.events[1]["type"] == "replay" and ep.transcript.events[1]["source"] == str(path)
