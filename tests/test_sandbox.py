"""Hostile battery: each program tries to escape, leak, exhaust or outlive the sandbox.

Run for every isolation backend this machine has ("bubblewrap", "unshare", "docker"); a backend
that is not available is skipped with the reason. As root, bubblewrap switches agent code to a
sandbox uid; run by an unprivileged user it is rootless (a user namespace, the harness's own uid).
After every exec no process of the sandbox may remain (``Sandbox.leftovers()``).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from pytest_rltask.sandbox import Sandbox, SandboxError, _load_backends
from pytest_rltask.sandbox.base import MiB, GiB, Limits

pytestmark = pytest.mark.offline

ISOLATIONS = ("bubblewrap", "unshare", "docker")
ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[1]

SMALL = Limits(
    wall_s=20, cpu_s=10, address_space=1 * GiB, nproc=48, file_size=8 * MiB, open_files=64,
    output=4096, output_file=4 * MiB, workspace=64 * MiB, workspace_files=1000, tmp=32 * MiB,
)


# A checkout under /tmp puts the venv's (read-only) parents into the sandbox's private /tmp.
MOUNTED_UNDER_TMP = {
    Path(p).relative_to("/tmp").parts[0]
    for p in {sys.prefix, sys.base_prefix}
    if Path(p).is_relative_to("/tmp") and p != "/tmp"
}


def _backend(name: str) -> type[Sandbox]:
    if name == "docker":
        from pytest_rltask.sandbox import _engine

        why = _engine.engine()
        if why:
            pytest.skip(f"no docker engine can run here: {why}")
    _load_backends()
    cls = Sandbox.registry.get(name)
    if cls is None:
        pytest.skip(f"isolation {name!r} is not importable")
    why = cls.available()
    if why:
        pytest.skip(f"isolation {name!r} is not available on this machine: {why}")
    return cls


@pytest.fixture(scope="module", autouse=True)
def _engine_stopped_after():
    """The docker engine a worker started for this module stops with it (workers skip atexit)."""
    yield
    from pytest_rltask.sandbox import _engine

    _engine.stop()


@pytest.fixture(params=ISOLATIONS)
def isolation(request) -> str:
    return request.param


@pytest.fixture
def make(isolation, tmp_path):
    boxes: list[Sandbox] = []

    def _make(limits: Limits = SMALL, name: str = "ws") -> Sandbox:
        box = _backend(isolation)(tmp_path / name, limits)
        boxes.append(box)
        return box

    yield _make
    for box in boxes:
        box.close()
        assert box.leftovers() == [], f"processes of sandbox {box.uid} outlived close()"


@pytest.fixture
def sb(make) -> Sandbox:
    return make()


def run(box: Sandbox, code: str, **kw):
    res = box.exec([box.python_executable(), "-c", textwrap.dedent(code)], **kw)
    left = box.leftovers()
    assert left == [], f"processes of the sandbox survived exec: {left}"
    return res


def sh(box: Sandbox, script: str, **kw):
    res = box.exec(["/bin/bash", "-c", script], **kw)
    assert box.leftovers() == []
    return res


# -- who and where the agent is ------------------------------------------------------------------
def test_identity_and_interpreter(sb):
    res = run(sb, """
        import os, sys, shutil
        st = open('/proc/self/status').read()
        caps = [l.split()[1] for l in st.splitlines() if l.startswith(('CapEff', 'CapPrm', 'CapBnd', 'CapAmb'))]
        nnp = [l.split()[1] for l in st.splitlines() if l.startswith('NoNewPrivs')][0]
        print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), ','.join(caps), nnp)
        print(sys.prefix)
        print(os.getcwd())
        print(shutil.which('python'))
    """)
    assert res.exit_code == 0, res.stderr
    ids, prefix, cwd, which = res.stdout.splitlines()
    uid, euid, gid, groups, caps, nnp = ids.split(" ", 5)[:6]
    if getattr(sb, "rootless", False):  # no uid switch: the harness's own uid, in a user namespace
        assert int(uid) == int(euid) == sb.uid == os.getuid() != 0 and int(gid) == os.getgid()
        assert sb.owner is None
    else:
        assert int(uid) == int(euid) == sb.uid != 0
        assert sb.owner == (sb.uid, sb.uid)
        assert int(gid) == sb.uid
    assert set(caps.split(",")) == {"0000000000000000"}
    assert nnp.endswith("1")
    assert prefix == sys.prefix  # trap 2: not Debian's python3
    assert cwd == sb.workdir
    assert which == os.path.join(sys.prefix, "bin", "python")


def test_workspace_owned_by_sandbox_uid(sb):
    st = os.stat(sb.workspace)
    assert (st.st_uid, st.st_mode & 0o777) == (sb.uid, 0o700)
    res = sh(sb, "echo hi > made.txt; mkdir -p d/e; echo x > d/e/f")
    assert res.exit_code == 0, res.stderr
    assert os.stat(sb.workspace / "made.txt").st_uid == sb.uid
    assert (sb.workspace / "d/e/f").read_text() == "x\n"


def test_stdin_and_exit_codes(sb):
    res = sb.exec(["/bin/cat"], stdin=b"hello sandbox")
    assert (res.exit_code, res.stdout) == (0, "hello sandbox")
    res = run(sb, "import sys; sys.exit(3)")
    assert res.exit_code == 3 and not res.ok


# -- reading what it must not see -----------------------------------------------------------------
def test_hidden_files_unreachable(make, tmp_path):
    secret = "s3cr3t-" + uuid.uuid4().hex
    outside = tmp_path / "answers.txt"
    outside.write_text(secret)
    outside.chmod(0o644)  # world-readable: only the mount layout hides it
    a = make(name="ws")
    b = make(name="other")
    (b.workspace / "theirs.txt").write_text(secret)
    res = run(a, f"""
        import os, sys
        leaks, found = [], []
        targets = [
            {str(outside)!r}, '../answers.txt', '../../answers.txt', {str(tmp_path / 'ws' / '..' / 'answers.txt')!r},
            '/proc/1/root' + {str(outside)!r}, '/proc/self/root' + {str(outside)!r},
            {str(b.workspace / 'theirs.txt')!r}, {str(REPO / 'tests' / 'test_sandbox.py')!r},
            {str(REPO / 'tasks')!r}, '/root/.bash_history', '/etc/shadow', '/proc/1/environ', '/proc/1/mem',
        ]
        for t in targets:
            try:
                data = open(t, 'rb').read(1 << 20) if not os.path.isdir(t) else str(os.listdir(t)).encode()
                found.append(t)
                if {secret!r}.encode() in data:
                    leaks.append(t)
            except OSError as e:
                pass
        # symlink and hardlink from the workspace to the host file
        os.symlink({str(outside)!r}, 'link.txt')
        try:
            if {secret!r} in open('link.txt').read():
                leaks.append('symlink')
        except OSError:
            pass
        try:
            os.link({str(outside)!r}, 'hard.txt')
            leaks.append('hardlink created')
        except OSError:
            pass
        print('LEAKS', leaks)
        print('FOUND', found)
        print('ROOT', sorted(os.listdir('/root')) if os.path.isdir('/root') else [])
        print('REPO', os.path.exists({str(REPO / 'pytest_rltask')!r}), os.path.exists({str(REPO / 'tests')!r}))
    """)
    assert res.exit_code == 0, res.stderr
    assert "LEAKS []" in res.stdout, res.stdout
    assert secret not in res.stdout
    # nothing of the host's tree is there at all (not merely unreadable)
    assert "FOUND []" in res.stdout, res.stdout
    assert "REPO False False" in res.stdout
    root_line = [l for l in res.stdout.splitlines() if l.startswith("ROOT")][0]
    assert ".bash_history" not in root_line and ".ssh" not in root_line
    assert a.uid != b.uid or getattr(a, "rootless", False)  # rootless: kept apart by namespaces


def test_environment_does_not_leak(sb, monkeypatch):
    key = "sk-ant-api03-FAKE-" + uuid.uuid4().hex
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("RLTASK_SECRET_TEST", key)
    res = run(sb, """
        import os
        print(sorted(os.environ))
        for p in ('/proc/self/environ', '/proc/1/environ'):
            try:
                print(open(p, 'rb').read())
            except OSError as e:
                print(p, 'unreadable')
        print(os.environ['PATH'])
    """)
    assert res.exit_code == 0, res.stderr
    assert key not in res.stdout
    assert "ANTHROPIC_API_KEY" not in res.stdout and "OPENAI_API_KEY" not in res.stdout
    assert res.stdout.strip().splitlines()[-1].startswith(os.path.join(sys.prefix, "bin") + ":")


def test_cannot_modify_system_or_venv(sb):
    site = [p for p in sys.path if p.endswith("site-packages")][0]
    res = run(sb, f"""
        import os
        wrote = []
        for p in ('/usr/bin/evil', '/etc/passwd', {site + '/sitecustomize.py'!r}, {site + '/evil.pth'!r},
                  {sys.base_prefix + '/lib/evil.py'!r}, '/evil', '/proc/sys/kernel/hostname'):
            try:
                with open(p, 'w') as fh:
                    fh.write('import os; os._exit(0)')
                wrote.append(p)
            except OSError:
                pass
        print('WROTE', wrote)
    """)
    assert res.exit_code == 0, res.stderr
    assert "WROTE []" in res.stdout, res.stdout
    assert not os.path.exists(os.path.join(site, "sitecustomize.py"))


def test_no_privilege_escalation(sb):
    res = run(sb, """
        import ctypes, os, subprocess
        out = []
        for f in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot('/tmp')):
            try:
                f(); out.append('allowed')
            except OSError:  # EPERM; rootless, EINVAL: uid 0 is not mapped in the user namespace
                out.append('denied')
        # pid 1 is the trusted witness: either not ours to signal, or (rootless, same uid) a
        # namespace init, for which the kernel drops the signal: this program goes on either way
        for sig in (9, 15, 2):
            try:
                os.kill(1, sig)
            except (PermissionError, ProcessLookupError):
                pass
        import time; time.sleep(0.1)
        out.append('kill-init ' + ('denied' if os.path.exists('/proc/1/status') else 'allowed'))
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.ptrace(16, os.getppid(), None, None)  # PTRACE_ATTACH to the parent (sandbox init)
        out.append('ptrace-parent ' + ('allowed' if rc == 0 else 'denied'))
        rc = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH to pid 1 (the witness / init)
        out.append('ptrace-init ' + ('allowed' if rc == 0 else 'denied'))
        try:
            out.append('init-fds ' + ('allowed' if os.listdir('/proc/1/fd') else 'denied'))
        except OSError:
            out.append('init-fds denied')
        rc = libc.syscall(250, 0, -3, 0)  # keyctl(GET_KEYRING_ID, user keyring): per uid, not namespaced
        out.append('keyring ' + ('allowed' if rc >= 0 else 'denied'))
        rc = libc.unshare(0x10000000)  # CLONE_NEWUSER
        out.append('userns ' + ('allowed' if rc == 0 else 'denied'))
        r = subprocess.run(['unshare', '-U', '-r', 'id'], capture_output=True)
        out.append('unshare-cmd ' + ('allowed' if r.returncode == 0 else 'denied'))
        r = subprocess.run(['bwrap', '--ro-bind', '/', '/', 'true'], capture_output=True)
        out.append('bwrap-cmd ' + ('allowed' if r.returncode == 0 else 'denied'))
        print(out)
    """)
    assert res.exit_code == 0, res.stderr
    assert "allowed" not in res.stdout, res.stdout
    assert res.stdout.count("denied") == 11
    assert res.peak_rss is not None  # the witness survived all of it


def test_kill_everything_spares_harness_and_neighbours(make):
    a = make(name="a")
    b = make(name="b")
    root_canary = subprocess.Popen(["sleep", "60"])
    neighbour = ["setpriv", f"--reuid={b.uid}", f"--regid={b.uid}", "--clear-groups"] if ROOT else []
    other_canary = subprocess.Popen([*neighbour, "sleep", "60"])
    try:
        time.sleep(0.05)
        res = run(a, f"""
            import os, signal
            for pid in ({root_canary.pid}, {other_canary.pid}, {os.getpid()}):
                try:
                    os.kill(pid, signal.SIGKILL); print('killed', pid)
                except OSError as e:
                    print('no', type(e).__name__)
            os.kill(-1, signal.SIGKILL)
        """)
        assert "killed" not in res.stdout
        assert root_canary.poll() is None and other_canary.poll() is None
    finally:
        for p in (root_canary, other_canary):
            p.kill()
            p.wait()


# -- exhausting resources ---------------------------------------------------------------------------
def test_fork_bomb_with_setsid_children(sb, isolation):
    wall = 6 if isolation == "docker" else 2  # docker: the container's start counts
    t0 = time.monotonic()
    res = run(sb, """
        import os, time
        n = 0
        while n < 10000:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                os.setsid()
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(1000)
            n += 1
        print('forks', n, flush=True)
        time.sleep(1000)
    """, timeout=wall)
    assert time.monotonic() - t0 < wall + 8
    assert res.timed_out and res.limit == "wall_time" and res.exit_code is None
    forks = int(res.stdout.split()[1])
    assert 0 < forks < SMALL.nproc
    assert run(sb, "print('still fine')").stdout == "still fine\n"


def test_memory_bomb_single_allocation(sb):
    res = run(sb, "x = bytearray(4 * 1024**3); print('allocated')")
    assert res.exit_code == 1 and "allocated" not in res.stdout
    assert "MemoryError" in res.stderr and res.limit == "memory"
    res = run(sb, "import mmap; m = mmap.mmap(-1, 4 * 1024**3); print('mapped')")
    assert res.exit_code == 1 and "mapped" not in res.stdout
    assert "Cannot allocate memory" in res.stderr and res.limit == "memory"


def test_memory_bomb_slow_growth(make):
    box = make(Limits(address_space=384 * MiB, output=4096))
    t0 = time.monotonic()
    res = run(box, """
        chunks = []
        try:
            while True:
                chunks.append(bytearray(16 * 1024**2))
        except MemoryError:
            print('got', len(chunks) * 16, 'MiB', flush=True)
            raise
    """)
    assert time.monotonic() - t0 < 15
    got = int(res.stdout.split()[1])
    assert 0 < got * MiB <= 384 * MiB
    assert res.limit == "memory" and res.exit_code != 0


def test_cpu_time_limit(make):
    box = make(Limits(cpu_s=1, wall_s=30, output=4096))
    t0 = time.monotonic()
    res = run(box, "while True: pass")
    assert res.limit == "cpu_time" and res.exit_code == -signal.SIGXCPU and not res.timed_out
    assert time.monotonic() - t0 < 25  # 1 s of CPU; wall depends on the machine's load


def test_disk_fill_one_big_file(sb):
    res = run(sb, """
        n = 0
        with open('big.bin', 'wb', buffering=0) as fh:
            while n < 1024:
                fh.write(b'x' * 1024**2); n += 1
    """)
    assert res.limit == "file_size" and res.exit_code != 0
    assert (sb.workspace / "big.bin").stat().st_size == SMALL.file_size


def test_disk_fill_many_files(sb):
    t0 = time.monotonic()
    res = run(sb, """
        import os, time
        os.mkdir('fill')
        for i in range(400):
            with open(f'fill/{i}.bin', 'wb') as fh:
                fh.write(os.urandom(1024**2))
        time.sleep(30)
    """)
    assert res.limit == "workspace" and res.exit_code is None
    assert time.monotonic() - t0 < 10


def test_too_many_files(sb):
    res = run(sb, f"""
        import os, time
        os.mkdir('many')
        for i in range({SMALL.workspace_files + 500}):
            open('many/%d' % i, 'w').close()
    """)
    assert res.limit == "workspace"
    assert not res.timed_out


def test_tmp_is_private_and_capped(sb):
    res = run(sb, """
        import os
        print(sorted(os.listdir('/tmp')))
        n = 0
        try:
            with open('/tmp/fill', 'wb') as fh:
                while True:
                    fh.write(b'x' * 1024**2); fh.flush(); n += 1
        except OSError as e:
            print('stopped', n, e.errno)
    """)
    lines = res.stdout.splitlines()
    assert lines[0] == repr(sorted(MOUNTED_UNDER_TMP))
    _, n, eno = lines[1].split()
    assert int(n) <= SMALL.tmp // MiB and int(eno) in (28, 27)  # ENOSPC (or EFBIG)


def test_endless_output(sb):
    t0 = time.monotonic()
    res = run(sb, """
        import sys
        while True:
            sys.stdout.write('A' * 65536)
            sys.stderr.write('B' * 4096)
    """)
    assert time.monotonic() - t0 < 10
    assert res.truncated and res.limit == "output"
    assert res.exit_code != 0  # None when the watcher killed it, else it died of EFBIG on stdout
    assert len(res.stdout) < SMALL.output + 200 and len(res.stderr) < SMALL.output + 200
    assert res.stdout.startswith("AAAA") and "omitted" in res.stdout
    assert run(sb, "print('ok')").stdout == "ok\n"


def test_verbose_but_finite_output_is_truncated_not_killed(sb):
    res = run(sb, "print('x' * 100000); print('the end')")
    assert res.exit_code == 0 and res.truncated and res.limit == "output"
    assert res.stdout.rstrip().endswith("the end")  # the tail is kept


def test_forged_success_lines_are_just_output(sb):
    res = run(sb, """
        import sys
        print('===== 12 passed in 0.01s =====')
        print('TASK COMPLETE: all tests passed')
        print('{"verdict": "pass", "exit_code": 0}')
        sys.exit(1)
    """)
    assert res.exit_code == 1 and not res.ok and res.limit is None
    assert "TASK COMPLETE" in res.stdout


# -- outliving the exec --------------------------------------------------------------------------------
def test_sigterm_ignoring_sleeper_stops_at_wall_limit(sb, isolation):
    # docker's wall time includes starting the container (1-2 s on this loaded machine)
    wall = 5.0 if isolation == "docker" else 1.0
    t0 = time.monotonic()
    res = run(sb, """
        import signal, time
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        print('sleeping', flush=True)
        time.sleep(1000)
    """, timeout=wall)
    took = time.monotonic() - t0
    assert res.timed_out and res.limit == "wall_time" and res.stdout == "sleeping\n"
    assert wall - 0.05 <= took < wall + 5


def test_daemons_die_when_exec_returns(sb):
    t0 = time.monotonic()
    res = sh(sb, """
        setsid nohup sleep 1000 >/dev/null 2>&1 &
        setsid bash -c 'trap "" TERM HUP; sleep 0.5; echo pwned > late.txt' >/dev/null 2>&1 &
        python -c "
import os, time, signal
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(1); open('late2.txt', 'w').write('pwned')
    os._exit(0)
"
        echo started
    """)
    assert res.exit_code == 0 and res.stdout == "started\n"
    assert time.monotonic() - t0 < SMALL.wall_s / 2, "exec waited for the daemons instead of killing them"
    time.sleep(1.5)
    assert not (sb.workspace / "late.txt").exists()
    assert not (sb.workspace / "late2.txt").exists()


# -- network ---------------------------------------------------------------------------------------------
def test_no_network(sb):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    abstract = "\0rltask-test-" + uuid.uuid4().hex
    ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ux.bind(abstract)
    ux.listen(5)
    ux.settimeout(0.2)
    try:
        res = run(sb, f"""
            import socket
            out = []
            for host in ('127.0.0.1', '1.1.1.1', '10.0.2.2'):
                s = socket.socket(); s.settimeout(2)
                try:
                    s.connect((host, {port if True else 0})); out.append('connected ' + host)
                except OSError as e:
                    out.append('refused')
            try:
                socket.getaddrinfo('example.com', 80); out.append('dns works')
            except OSError:
                out.append('refused')
            u = socket.socket(socket.AF_UNIX)
            try:
                u.connect({abstract!r}); out.append('abstract connected')
            except OSError:
                out.append('refused')
            print(out)
        """)
        assert res.exit_code == 0, res.stderr
        assert res.stdout.count("refused") == 5, res.stdout
        with pytest.raises(socket.timeout):
            listener.accept()
        with pytest.raises(socket.timeout):
            ux.accept()
    finally:
        listener.close()
        ux.close()


def test_loopback_inside_works(sb):
    res = run(sb, """
        import socket, threading
        srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
        c = socket.create_connection(srv.getsockname(), timeout=2)
        conn, _ = srv.accept(); conn.sendall(b'pong'); print(c.recv(4).decode())
    """)
    assert res.stdout == "pong\n", res.stderr


# -- the real workload -------------------------------------------------------------------------------------
def test_torch_imports_inside(make):
    box = make(Limits(wall_s=120))  # default memory limits: torch needs >= 768 MiB of address space
    res = run(box, "import sys, torch; print(sys.prefix); print(float((torch.ones(3) * 2).sum()))")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.split() == [sys.prefix, "6.0"]


def test_closed_sandbox_refuses(make):
    box = make()
    box.close()
    with pytest.raises(SandboxError):
        box.exec(["/bin/true"])


def test_planted_modules_do_not_reach_isolated_python(sb):
    res = sh(sb, """
        echo 'print("PLANTED"); import os; os._exit(0)' > sitecustomize.py
        cp sitecustomize.py json.py
        echo 'import sitecustomize' > zz.pth
        mkdir -p /tmp/.local/lib/python3.11/site-packages && cp sitecustomize.py /tmp/.local/lib/python3.11/site-packages/usercustomize.py
        echo persisted > /tmp/left-behind
    """)
    assert res.exit_code == 0, res.stderr
    res = sb.python(["-I", "-c", "import json, sys; print(json.__file__.startswith(sys.base_prefix)); sys.exit(3)"])
    assert "PLANTED" not in res.stdout and res.stdout == "True\n" and res.exit_code == 3
    res = sh(sb, "ls /tmp")  # /tmp is private to each exec: nothing carries over
    assert res.stdout.split() == sorted(MOUNTED_UNDER_TMP)


# -- the trusted peak-memory witness ------------------------------------------------------------------
def test_peak_rss_is_measured_and_cannot_be_forged(sb):
    """Agent code tries to stop, trace or overwrite the witness; it still reports the real peak."""
    res = run(sb, """
        import ctypes, os, signal, subprocess, sys
        libc = ctypes.CDLL(None, use_errno=True)
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP, signal.SIGUSR1):
            try:
                os.kill(1, sig)
            except OSError:
                pass
        libc.ptrace(16, 1, None, None)
        for fd in range(3, 12):  # the witness's fd is not inherited: nothing to forge a line on
            try:
                os.write(fd, b"peak 1\\n")
                print('wrote fd', fd)
            except OSError:
                pass
        for p in ('/proc/1/fd', '/proc/1/mem'):
            try:
                os.listdir(p) if p.endswith('fd') else open(p, 'rb').read(1)
                print('opened', p)
            except OSError:
                pass
        # a 200 MiB child that is reaped by its parent, then a 120 MiB one left running
        subprocess.run([sys.executable, '-c', 'x = bytearray(200 * 1024**2); x[::4096] = b"1" * len(x[::4096])'])
        subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(120 * 1024**2); x[::4096] = b"1" * len(x[::4096]); time.sleep(60)'])
        import time; time.sleep(1.0)
        print('done')
    """)
    assert res.exit_code == 0, res.stderr
    assert "wrote fd" not in res.stdout and "opened" not in res.stdout, res.stdout
    assert res.stdout.strip().endswith("done")
    assert res.peak_rss is not None and 200 * MiB <= res.peak_rss < 600 * MiB, res.peak_rss


def test_signals_of_agent_code_are_reported(sb):
    res = run(sb, "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert res.exit_code == -signal.SIGTERM
    res = run(sb, "import os; os._exit(7)")
    assert res.exit_code == 7


KEEPER = """
import os, time
pid = os.fork()
if pid == 0:
    x = bytearray(300 * 1024**2); x[::4096] = b"1" * len(x[::4096])
    open("allocated", "w").close(); os._exit(0)
time.sleep(60)  # never reaps its child: a zombie, with no VmHWM left to read
"""


def test_peak_rss_counts_a_child_nobody_waited_for(sb):
    """A long-lived process keeps its 300 MiB child a zombie; the command exits before it."""
    res = run(sb, f"""
        import subprocess, sys, time
        import os
        subprocess.Popen([sys.executable, '-c', {KEEPER!r}], start_new_session=True)
        for _ in range(300):
            if os.path.exists('allocated'):
                break
            time.sleep(0.1)
        time.sleep(0.3)  # the child has exited: a zombie of the keeper
        print('done')
    """)
    assert res.stdout.strip() == "done", res.stderr
    assert res.peak_rss is not None and res.peak_rss >= 300 * MiB, res.peak_rss
