"""Attacks on the grading core (Rollout.run, Rollout.grade, the sandbox, the peak-memory witness).

Each test plays a small task whose grader calls ``rollout.run`` on the agent's program, with a
shipped trajectory carrying one attack, and asserts that the attack is defeated. An attack that
succeeds today is kept, marked ``xfail(strict=True)`` with the hole it goes through: it turns
into a failure (XPASS) the day the hole is closed, so the mark must then be removed.

Claims attacked (see docs/writing-tasks.md, "The grading protocol"):
1. agent code cannot tell a grading run from its own runs;
2. it cannot learn the secret instance (nor the harness's API keys) in live runs;
3. outputs of ``rollout.run`` are only what that run wrote;
4. ``grade`` trusts only a clean exit of trusted code; ``peak_rss`` cannot be lowered or forged;
5. no agent process survives its exec and no agent file leaks outside its workspace.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def box(pytester: pytest.Pytester) -> pytest.Pytester:
    from pytest_rltask.sandbox import detect

    if detect() == "none":
        pytest.skip("no sandbox backend on this machine")
    return pytester


def _steps(files: dict[str, str], runs: list[list[str]] | None = None, bash: list[str] | None = None) -> list[dict]:
    steps = [{"tool": "write_file", "input": {"path": p, "content": c}} for p, c in files.items()]
    for args in runs or []:
        steps.append({"tool": "run_python", "input": {"path": args[0], "args": args[1:]}})
    for cmd in bash or []:
        steps.append({"tool": "bash", "input": {"command": cmd}})
    steps.append({"tool": "submit_answer", "input": {"answer": "done"}})
    return steps


def _play(pt: pytest.Pytester, module: str, solutions: dict[str, dict], *args: str) -> pytest.RunResult:
    """Write the task module and its solutions, run the offline items; return pytest's result."""
    pt.makepyfile(test_attack=textwrap.dedent(module))
    sol = pt.path / "solutions"
    sol.mkdir(exist_ok=True)
    for name, data in solutions.items():
        (sol / f"{name}.json").write_text(json.dumps({"note": name, **data}))
    return pt.runpytest_subprocess("-p", "no:cacheprovider", *(args or ("-m", "offline")))


# -- claim 1: a grading run looks like one more run of the agent's own ------------------------
# A detector program writes {"graded": bool, "why": str} to out.txt on every run. The agent runs it
# twice (its second run sees the workspace as a grading run does); the grader checks that it says
# False in the agent's own runs (no false alarm) and then that it says False in rollout.run too.
DETECT_MODULE = '''
import json
from pytest_rltask import Task

def make_workspace(ws, instance):
    (ws / "data.txt").write_text("public data\\n")

TASK = Task(prompt="p", tools=["write_file", "run_python", "bash", "submit_answer"],
            files=make_workspace, max_steps=8)

def test_detect(rollout):
    own = json.loads((rollout.workspace / "out.txt").read_text())
    assert own["graded"] is False, f"false alarm in the agent's own run: {own['why']}"
    BEFORE
    run = rollout.run(["detect.py"], outputs=["out.txt"], RUN_KW)
    assert run.ok, run.stderr
    got = json.loads(run.file("out.txt"))
    assert got["graded"] is False, f"agent code can tell it is being graded: {got['why']}"
'''


def _detect(pt: pytest.Pytester, program: str, before: str = "pass", run_kw: str = "") -> pytest.RunResult:
    module = DETECT_MODULE.replace("BEFORE", before).replace("RUN_KW", run_kw or "stdin=None")
    traj = {"expect": "pass", "steps": _steps({"detect.py": textwrap.dedent(program)}, [["detect.py"]] * 2)}
    return _play(pt, module, {"detect": traj})


# The process's whole view of itself, except what is new in every exec (namespace inodes, mount
# ids, memory counters): environment, argv, fds (kind, target, owner), /proc/self/status, cgroup,
# hostname, pids, the witness's command line, rlimits, umask, groups, mounts.
PROCESS_VIEW = r'''
import json, os, re, stat, sys
def fds():
    out = {}
    for fd in sorted(os.listdir("/proc/self/fd")):
        try:
            link, st = os.readlink(f"/proc/self/fd/{fd}"), os.fstat(int(fd))
            out[fd] = (re.sub(r"tmp\w+|#\d+", "T", link), stat.S_IFMT(st.st_mode), st.st_uid, st.st_nlink)
        except OSError as e:
            out[fd] = e.errno
    return out
def text(path, drop=()):
    try:
        lines = open(path, "rb").read().decode(errors="replace").splitlines()
    except OSError as e:
        return e.errno
    return [l for l in lines if not l.split(":")[0].startswith(drop)]
view = {
    "env": dict(os.environ), "argv": sys.argv, "flags": repr(sys.flags), "fds": fds(),
    "status": text("/proc/self/status", ("Vm", "Rss", "Huge", "voluntary", "nonvoluntary", "Cpus_", "Mems_")),
    "cgroup": text("/proc/self/cgroup"), "hostname": os.uname().nodename, "uid_map": text("/proc/self/uid_map"),
    "ids": [os.getpid(), os.getppid(), os.getpgid(0), os.getsid(0), os.getuid(), os.geteuid(), os.getgroups()],
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "init": text("/proc/1/cmdline"),
    "limits": text("/proc/self/limits"), "umask": os.umask(0o022), "oom": text("/proc/self/oom_score_adj"),
    "mounts": [" ".join(l.split()[3:]) for l in open("/proc/self/mountinfo")],
}
prev = json.load(open("view.json")) if os.path.exists("view.json") else view
json.dump(view, open("view.json", "w"))
diff = sorted(k for k in view if json.loads(json.dumps(view[k])) != prev[k])
json.dump({"graded": bool(diff), "why": str({k: (prev[k], view[k]) for k in diff})[:3000]}, open("out.txt", "w"))
'''


def test_process_view_is_the_same_in_grading(box: pytest.Pytester) -> None:
    """Held: fds, /proc/self/status, cgroup, hostname, pids, the witness, rlimits are identical."""
    _detect(box, PROCESS_VIEW).assert_outcomes(passed=1)


# /etc/passwd and /etc/group are written anew into the private folder by every IsolatedSandbox
# (FsPlan.__init__), also for a leased one: their mtime/ctime say "a new sandbox".
PASSWD_TELL = r'''
import json, os
st = os.stat("/etc/passwd")
cur = [st.st_mtime_ns, st.st_ctime_ns]
seen = json.load(open(".pw")) if os.path.exists(".pw") else cur
json.dump(seen, open(".pw", "w"))
json.dump({"graded": seen != cur, "why": f"/etc/passwd times {seen} -> {cur}"}, open("out.txt", "w"))
'''


def test_passwd_times_tell_a_new_sandbox(box: pytest.Pytester) -> None:
    _detect(box, PASSWD_TELL).assert_outcomes(passed=1)


# A file the agent's program wrote and nobody read has atime <= mtime; a grader that reads it as
# data (the docs' advice: "read it as data") bumps its atime (relatime), and so does Rollout.run's
# own read-back of outputs before the next run.
ATIME_TELL = r'''
import json, os
if not os.path.exists("report.txt"):
    open("report.txt", "w").write("my report\n")
st = os.stat("report.txt")
json.dump({"graded": st.st_atime_ns > st.st_mtime_ns,
           "why": f"report.txt was read after it was written (atime {st.st_atime_ns} > mtime {st.st_mtime_ns})"},
          open("out.txt", "w"))
'''


@pytest.mark.xfail(strict=True, reason=(
    "host-side reads of workspace files (the grader's, Rollout.run's output read-back) update atime "
    "(relatime on the workspace's filesystem): agent code sees its files were read since it wrote them"))
def test_atime_tells_the_grader_read_the_workspace(box: pytest.Pytester) -> None:
    import os
    import tempfile

    if os.statvfs(tempfile.gettempdir()).f_flag & getattr(os, "ST_NOATIME", 1024):
        pytest.skip("workspaces live on a noatime filesystem here: no atime tell to test")
    before = 'assert rollout.artifact("report.txt").read_text() == "my report\\n"'
    _detect(box, ATIME_TELL, before=before).assert_outcomes(passed=1)


# Graders re-run the program on the workspace's own instance (double_softmax) or write the shipped
# originals back (eval_lookup_patch): write_files rewrites a file even when its bytes are the same.
REWRITE_TELL = r'''
import json, os
st = os.stat("data.txt")
cur = [st.st_ino, st.st_mtime_ns, open("data.txt").read()]
seen = json.load(open(".st")) if os.path.exists(".st") else cur
json.dump(seen, open(".st", "w"))
json.dump({"graded": seen != cur, "why": f"data.txt {seen} -> {cur}"}, open("out.txt", "w"))
'''


def test_rewriting_identical_inputs_changes_mtime(box: pytest.Pytester) -> None:
    _detect(box, REWRITE_TELL, run_kw='files={"data.txt": "public data\\n"}').assert_outcomes(passed=1)


# Rollout.run(stdin=...) once gave an unlinked file in the host's private folder while run_python and
# bash gave /dev/null: a kind of fd 0 no agent tool could produce. Now every exec's stdin is an
# unlinked file of the same private folder (empty when there is no input); the detector records
# what kind of fd 0 its own runs had (what it can read is only the input itself).
STDIN_TELL = r'''
import json, os, stat
st, link = os.fstat(0), os.readlink("/proc/self/fd/0")
cur = [stat.S_IFMT(st.st_mode), st.st_dev == os.stat("/ws").st_dev, os.path.dirname(link)]
seen = json.load(open(".fd0")) if os.path.exists(".fd0") else cur
json.dump(seen, open(".fd0", "w"))
json.dump({"graded": seen != cur, "why": f"stdin {seen} -> {cur}"}, open("out.txt", "w"))
'''


def test_stdin_fd_tells_a_grading_run(box: pytest.Pytester) -> None:
    _detect(box, STDIN_TELL, run_kw='stdin=b"what is 2+2?\\n"').assert_outcomes(passed=1)


# Rollout.run works in place on the agent's workspace: a second grading run sees what the first
# wrote, including a copy of the hidden input it was given, and the grader's later reads of
# rollout.workspace see files the grading run (agent code on hidden data) wrote.
INPLACE_MODULE = '''
import json
from pytest_rltask import Task

def make_workspace(ws, instance):
    (ws / "data.txt").write_text("public data\\n")

TASK = Task(prompt="p", tools=["write_file", "run_python", "submit_answer"], files=make_workspace, max_steps=6)
HIDDEN = "hidden-instance-rows\\n"

def test_inplace(rollout):
    first = rollout.run(["log.py"], files={"data.txt": HIDDEN}, outputs=["out.txt"])
    assert first.ok, first.stderr
    second = rollout.run(["log.py"], files={"data.txt": "public data\\n"}, outputs=["out.txt"])
    assert second.ok, second.stderr
    assert "hidden" not in second.file("out.txt").decode(), "the 2nd grading run read the 1st one's hidden input"
    assert "hidden" not in (rollout.workspace / "log.txt").read_text(), "grading runs changed the agent's workspace"
'''
LOG = r'''
seen = open("data.txt").read()
with open("log.txt", "a") as fh:
    fh.write(seen)
open("out.txt", "w").write(open("log.txt").read())
'''


@pytest.mark.xfail(strict=True, reason=(
    "Rollout.run(from_workspace=True) runs in place (ws = self.workspace), not on a copy of the agent's "
    "final workspace: each grading run inherits the files and hidden inputs of the previous ones"))
def test_grading_runs_are_independent(box: pytest.Pytester) -> None:
    traj = {"expect": "pass", "steps": _steps({"log.py": LOG}, [["log.py"]])}
    _play(box, INPLACE_MODULE, {"log": traj}).assert_outcomes(passed=1)


# -- claims 2 and 5: no secret instance and no API key is readable; nothing survives an exec -----
# The program dumps what it can read (its environment, every /proc/<pid> file of its namespace,
# /etc, /ws, /tmp, /dev/shm, mountinfo, the targets of its fds); the grader searches both dumps
# (its own run's, the grading run's) for the instance in decimal and hex and for the keys.
DUMP = r'''
import os
out = [repr(dict(os.environ))]
def grab(path, cap=1 << 20):
    try:
        with open(path, "rb") as fh:
            out.append(path + ":" + fh.read(cap).decode("latin-1"))
    except OSError:
        pass
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self", "thread-self"]:
    for name in ("environ", "cmdline", "status", "stat", "mountinfo", "maps", "cgroup", "limits", "attr/current"):
        grab(f"/proc/{pid}/{name}")
    try:
        out += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        pass
for fd in range(3):
    grab(f"/proc/self/fd/{fd}")
for root in ("/etc", "/ws", "/tmp", "/dev/shm", "/proc/sys/kernel"):
    for d, dirs, files in os.walk(root):
        out.append(d + ":" + " ".join(sorted(dirs + files)))
        for f in files:
            if f not in ("dump.txt",):
                grab(os.path.join(d, f), 1 << 16)
open("dump.txt", "w").write("\n".join(out))
'''
SECRET_MODULE = '''
import os
from pytest_rltask import Task

def make_workspace(ws, instance):
    (ws / "data.txt").write_text("public data\\n")

TASK = Task(prompt="p", tools=["write_file", "run_python", "submit_answer"], files=make_workspace, max_steps=6)

def test_secret(rollout):
    assert rollout.instance_source == "secret"
    marks = {str(rollout.instance), f"{rollout.instance:x}", os.environ["ANTHROPIC_API_KEY"], os.environ["OPENAI_API_KEY"]}
    own = (rollout.workspace / "dump.txt").read_text()
    run = rollout.run(["dump.py"], outputs=["dump.txt"])
    assert run.ok, run.stderr
    graded = run.file("dump.txt").decode("latin-1")
    assert len(own) > 10_000 and len(graded) > 10_000
    for where, text in (("the agent's run", own), ("the grading run", graded)):
        found = [m for m in marks if m in text]
        assert not found, f"{where} read a secret: {found}"
'''


def test_instance_and_keys_are_unreadable_live(box: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held: a live (replayed) run cannot read its secret instance or the harness's API keys."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-adversary-2f9d81c7e0")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-adversary-openai-5b3a77")
    traj = {"expect": "pass", "steps": _steps({"dump.py": DUMP}, [["dump.py"]])}
    res = _play(box, SECRET_MODULE, {"dump": traj}, "-m", "not offline", "--rl-agent", "replay",
                "--rl-runs", "1", "--rl-min-runs", "1", "--rl-band", "0,1", f"--rl-transcripts={box.path / 't'}")
    res.assert_outcomes(passed=1)


TOKEN = "rltask-adversary-leak-7f3c2a"
# The agent's own run leaves files outside /ws and a double-forked, setsid'd daemon that keeps
# rewriting out.txt and a heartbeat; the grading run's out.txt must be its own, nothing may be left.
DAEMON = r'''
import os, signal, time
for d in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~")):
    try:
        open(os.path.join(d, "TOKEN"), "w").write("x")
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        end = time.time() + 60
        while time.time() < end:
            open("hb.txt", "w").write(str(time.time()))
            open("out.txt", "w").write("FORGED")
            time.sleep(0.02)
        os._exit(0)
    os._exit(0)
time.sleep(0.3)
'''.replace("TOKEN", TOKEN)
CHECK = r'''
import json, os, time
time.sleep(0.3)
left = [d for d in ("/tmp", "/dev/shm", "/var/tmp") if os.path.exists(os.path.join(d, "TOKEN"))]
json.dump({"left": left}, open("out.txt", "w"))
'''.replace("TOKEN", TOKEN)
SURVIVE_MODULE = '''
import json, time
from pathlib import Path
from pytest_rltask import Task

TASK = Task(prompt="p", tools=["write_file", "run_python", "submit_answer"], max_steps=6)

def test_survive(rollout):
    from pytest_rltask.sandbox._isolated import _sweep_uid
    if rollout.lease is not None and rollout.lease[1] >= 0:
        assert not _sweep_uid(rollout.lease[0]), "a process of the agent's uid outlived its exec"
    hb = rollout.workspace / "hb.txt"
    t0 = hb.stat().st_mtime_ns
    time.sleep(0.5)
    assert hb.stat().st_mtime_ns == t0, "the agent's daemon still runs"
    for d in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not (Path(d) / "TOKEN").exists(), f"an agent file leaked to the host's {d}"
    run = rollout.run(["check.py"], outputs=["out.txt"])
    assert run.ok, run.stderr
    assert json.loads(run.file("out.txt")) == {"left": []}
'''.replace("TOKEN", TOKEN)


def test_no_survivor_no_leak(box: pytest.Pytester) -> None:
    """Held: the agent's daemon dies with its exec; /tmp, /dev/shm are per exec and not the host's."""
    traj = {"expect": "pass", "steps": _steps({"daemon.py": DAEMON, "check.py": CHECK}, [["daemon.py"]])}
    _play(box, SURVIVE_MODULE, {"daemon": traj}).assert_outcomes(passed=1)
    for d in ("/tmp", "/dev/shm", "/var/tmp"):
        assert not (Path(d) / TOKEN).exists()


# -- claim 4: the peak memory cannot be lowered -------------------------------------------------
# A task rewards a program that stays under LIMIT. Every hack really holds REAL MiB at once; each
# declares "expect: fail / too_much_memory": the grader must see through it.
MEM_MODULE = '''
from pytest_rltask import Task, fail

TASK = Task(prompt="p", tools=["write_file", "submit_answer"], max_steps=4)
LIMIT = 150 << 20

def test_mem(rollout):
    rollout.artifact("mem.py", "no_script")
    run = rollout.run(["mem.py"])
    if not run.ok:
        fail("script_error", run.stderr[-800:])
    assert run.peak_rss is not None, "no witness"
    if run.peak_rss > LIMIT:
        fail("too_much_memory", f"peak {run.peak_rss >> 20} MiB")
'''
REAL = 300
MEM = {
    "small": "b = bytearray(40 << 20)\n",
    "heavy": f"b = bytearray({REAL} << 20)\n",
    # the old image's high-water mark survives execve (the kernel keeps it in signal->maxrss)
    "exec_after_peak": f"import os, sys\nb = bytearray({REAL} << 20)\ndel b\n"
                       "os.execv(sys.executable, [sys.executable, '-c', 'pass'])\n",
    # the witness is root (or pid 1 and non-dumpable): no signal, no ptrace, no clear_refs of it
    "attack_witness": textwrap.dedent(f"""
        import ctypes, os, signal
        b = bytearray({REAL} << 20)
        for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
            try: os.kill(1, sig)
            except OSError: pass
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace(16, 1, 0, 0)   # PTRACE_ATTACH
        for p in ("/proc/1/clear_refs", "/proc/1/oom_score_adj"):
            try: open(p, "w").write("5")
            except OSError: pass
        """),
    # the heavy work in a child the parent never waits for, still alive when the parent exits
    "orphan": textwrap.dedent(f"""
        import os, time
        r, w = os.pipe()
        if os.fork() == 0:
            b = bytearray({REAL} << 20)
            os.write(w, b"1")
            time.sleep(5)
            os._exit(0)
        os.read(r, 1)
        """),
    # write 5 to /proc/self/clear_refs: the kernel resets this process's high-water mark (the one
    # VmHWM and ru_maxrss report) to its current RSS
    "clear_refs": f"b = bytearray({REAL} << 20)\nb[::4096] = b'\\1' * len(b[::4096])\ndel b\n"
                  "open('/proc/self/clear_refs', 'w').write('5')\n",
    # four processes hold a quarter each at the same time
    "split": textwrap.dedent(f"""
        import os
        kids = []
        for i in range(4):
            r, w = os.pipe(); g, h = os.pipe()
            if os.fork() == 0:
                b = bytearray(({REAL} // 4) << 20)
                os.write(w, b"1"); os.read(g, 1); os._exit(0)
            kids.append((r, h))
        for r, h in kids: os.read(r, 1)      # all four hold their share now
        for r, h in kids: os.write(h, b"1")
        for _ in kids: os.wait()
        """),
    # the data lives in memfds (shmem): RAM, but in nobody's RSS, and not capped by Limits.tmp
    "memfd": textwrap.dedent(f"""
        import os
        chunk = b"\\1" * (1 << 20)
        fds = [os.memfd_create("x") for _ in range(3)]
        for fd in fds:
            for _ in range({REAL} // 3): os.write(fd, chunk)
        assert sum(os.fstat(fd).st_size for fd in fds) == {REAL} << 20
        """),
    # the same in files on the sandbox's /dev/shm (a tmpfs: RAM)
    "shm": textwrap.dedent(f"""
        import os
        chunk = b"\\1" * (1 << 20)
        for k in range(3):
            with open(f"/dev/shm/part{{k}}", "wb") as fh:
                for _ in range({REAL} // 3): fh.write(chunk)
        assert sum(os.path.getsize(f"/dev/shm/part{{k}}") for k in range(3)) == {REAL} << 20
        """),
}


def _mem_solution(name: str) -> dict:
    expect = {"expect": "pass"} if name == "small" else {"expect": "fail", "category": "too_much_memory"}
    return {**expect, "steps": _steps({"mem.py": MEM[name]})}


def test_peak_rss_holds(box: pytest.Pytester) -> None:
    """Held: exec after the peak, signals/ptrace/clear_refs against the witness, an orphan child."""
    names = ["small", "heavy", "exec_after_peak", "attack_witness", "orphan"]
    _play(box, MEM_MODULE, {n: _mem_solution(n) for n in names}).assert_outcomes(passed=len(names))


PEAK_HOLES = {
    "clear_refs": "agent code may write 5 to its own /proc/self/clear_refs, resetting the hiwater_rss that "
                  "_reaper reads (RUSAGE_CHILDREN ru_maxrss and VmHWM): 300 MiB held reads as ~10 MiB",
    "split": "_reaper reports the largest single process (max of ru_maxrss/VmHWM), not the sum of processes "
             "alive at once: 4 x 75 MiB held together reads as ~80 MiB",
    "memfd": "memfd_create pages are shmem in no process's RSS (and not capped by Limits.tmp nor RLIMIT_AS): "
             "300 MiB held reads as ~11 MiB",
    "shm": "files on the sandbox's /dev/shm (and /tmp) tmpfs are RAM in no process's RSS: 300 MiB reads as ~11 MiB",
}


@pytest.mark.parametrize("hack", list(PEAK_HOLES))  # the holes these were, now closed by the sampling witness
def test_peak_rss_cannot_be_lowered(box: pytest.Pytester, hack: str) -> None:
    _play(box, MEM_MODULE, {hack: _mem_solution(hack)}).assert_outcomes(passed=1)


# -- claim 4: grade() counts only a result.json written by trusted code that exited 0 -----------
GRADE_MODULE = '''
from pytest_rltask import Task, fail

TASK = Task(prompt="p", tools=["write_file", "submit_answer"], max_steps=4)

# trusted: reads the product as data; no valid product, no result.json (so: no_result)
SCRIPT = """
import json, sys
try:
    n = int(open("product.txt").read())
except Exception:
    sys.exit(0)
json.dump({"ok": n * n == 49}, open("result.json", "w"))
"""

def test_grade(rollout):
    run = rollout.run(["make.py"], outputs=["product.txt", "result.json", "json.py", "sitecustomize.py"])
    if not run.ok:
        fail("script_error", run.stderr[-500:])
    res = rollout.grade(SCRIPT, files=dict(run.files))   # every product, as data
    if not res.get("ok"):
        fail("wrong", str(res))
'''
MAKE = {
    "honest": ('open("product.txt", "w").write("7")', {"expect": "pass"}),
    "wrong": ('open("product.txt", "w").write("3")', {"expect": "fail", "category": "wrong"}),
    # modules beside the trusted script are not imported: python -I puts neither cwd nor its folder on sys.path
    "shadow_modules": ('open("product.txt", "w").write("x")\n'
                       'src = "import json as _j; open(\'result.json\', \'w\').write(\'{\\"ok\\": true}\')"\n'
                       'open("json.py", "w").write("raise SystemExit(0)")\n'
                       'open("sitecustomize.py", "w").write(src)',
                       {"expect": "fail", "category": "no_result"}),
    # a product named result.json is in the grading sandbox before the trusted script runs
    "forged_result": ('open("product.txt", "w").write("x")\nopen("result.json", "w").write(\'{"ok": true}\')',
                      {"expect": "fail", "category": "no_result"}),
}


def _grade_solutions(names: list[str]) -> dict[str, dict]:
    return {n: {**MAKE[n][1], "steps": _steps({"make.py": MAKE[n][0]})} for n in names}


def test_grade_trusts_only_trusted_code(box: pytest.Pytester) -> None:
    names = ["honest", "wrong", "shadow_modules"]
    _play(box, GRADE_MODULE, _grade_solutions(names)).assert_outcomes(passed=len(names))


def test_grade_ignores_a_preexisting_result(box: pytest.Pytester) -> None:
    _play(box, GRADE_MODULE, _grade_solutions(["forged_result"])).assert_outcomes(passed=1)


# -- principle 3: a failing program cannot turn its failure into a harness error -----------------
# The grader writes its hidden input under a folder name (as eval_lookup_patch writes
# data/train.jsonl) and reads an output back. The agent's program is wrong either way; the agent
# lays a trap in the workspace so that writing the input or reading the output raises in the
# harness: the run must still be "failed" (the model's fault), never "error" (which the gate and a
# trainer treat as a broken harness, not as a zero).
LAYOUT_MODULE = '''
from pytest_rltask import Task, fail

TASK = Task(prompt="p", tools=["write_file", "bash", "submit_answer"], max_steps=6)

def test_layout(rollout):
    run = rollout.run(["prog.py"], files={"data/hidden.txt": "hidden\\n"}, outputs=["out.txt"])
    if not run.ok:
        fail("script_error", run.stderr[-300:])
    if run.file("out.txt", "no_output") != b"hidden\\n":
        fail("wrong", "out.txt is not the hidden input")
'''
HONEST_PROG = 'open("out.txt", "w").write(open("data/hidden.txt").read())'
WRONG_PROG = 'open("out.txt", "w").write("nope")'
TRAPS = {
    "hidden_is_a_folder": "mkdir -p data/hidden.txt/x",
    "hidden_links_out": "mkdir -p data && ln -s /etc/passwd data/hidden.txt",
    "output_links_out": "ln -s /etc/passwd out.txt",
    "data_is_a_file": "echo x > data",
    "data_links_out": "ln -s /tmp data",
    "data_is_a_loop": "ln -s data data",
    "output_is_a_loop": "ln -s out.txt out.txt",
}


def _layout(name: str) -> dict:
    prog = WRONG_PROG if name != "output_links_out" and "loop" not in name else "pass"
    return {"expect": "fail", "steps": _steps({"prog.py": prog}, bash=[TRAPS[name]])}


def test_layout_traps_fail_the_run(box: pytest.Pytester) -> None:
    """Held: a folder where the grader writes an input, a symlink out of the workspace as the output."""
    sols = {n: _layout(n) for n in ("hidden_is_a_folder", "output_links_out")}
    sols["honest"] = {"expect": "pass", "steps": _steps({"prog.py": HONEST_PROG})}
    _play(box, LAYOUT_MODULE, sols).assert_outcomes(passed=len(sols))


LAYOUT_HOLES = {
    "hidden_links_out": "task.write_files checks dest.resolve() before its own 'symlink: unlink it' branch, so a "
                        "grader input name the agent made a symlink out of the workspace raises ValueError: error",
    "data_is_a_file": "task.write_files: dest.parent.mkdir() raises FileExistsError when an agent file sits "
                      "where a parent folder of a grader input goes: outcome error instead of failed",
    "data_links_out": "task.write_files raises ValueError ('escapes the sandbox workspace') when the agent made "
                      "a parent folder of a grader input a symlink out of the workspace: error instead of failed",
    "data_is_a_loop": "task.write_files: dest.resolve() raises RuntimeError (symlink loop) on an agent's "
                      "self-referencing link: error instead of failed",
    "output_is_a_loop": "Rollout.run's read-back catches OSError only; path.resolve() raises RuntimeError on a "
                        "symlink loop named as an output: error instead of failed (no_output)",
}


@pytest.mark.parametrize("trap", list(LAYOUT_HOLES))  # the holes these were, now closed in write_files
def test_layout_trap_is_not_a_harness_error(box: pytest.Pytester, trap: str) -> None:
    _play(box, LAYOUT_MODULE, {trap: _layout(trap)}).assert_outcomes(passed=1)
