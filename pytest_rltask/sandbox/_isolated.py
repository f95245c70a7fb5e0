"""What the bubblewrap and unshare backends share: uid allocation, the filesystem plan, the exec loop.

Uid scheme
----------
Every Sandbox instance takes its own unprivileged uid (gid = uid) from ``UID_BASE`` ..
``UID_BASE + UID_COUNT - 1`` (61000..64999), skipping uids that exist in the host's passwd
database. A uid is held with an ``flock`` on ``/run/pytest-rltask-uids/<uid>`` for the instance's
lifetime, so concurrent sandboxes (threads, xdist workers, separate pytest sessions) never share
one; a crashed holder's lock is released by the kernel, and whoever takes the uid next first kills
any process still running as it. Distinct uids mean RLIMIT_NPROC is per sandbox, a sandbox cannot
signal or ptrace another one's processes, and the "kill everything running as the uid" sweep after
each exec never hits a neighbour. The workspace is chowned to the uid and made 0700.

Rootless mode (bubblewrap only)
-------------------------------
Run by an unprivileged user, the bubblewrap backend cannot switch uids. It runs agent code as the
harness's own uid inside a new user namespace (``--unshare-user --disable-userns``): the same
mounts, namespaces, rlimits, seccomp filter and no_new_privs, no capabilities, no uid switch and no
chown. The post-exec sweep then cannot go by uid (that is the harness's own); it goes by the
sandbox's pid namespace instead: bwrap reports that namespace's init (``child-pid``) and inode, and
``exec`` returns only once that init is gone, which the kernel allows only after every other
process of the namespace has been reaped.

Exec
----
The command runs with stdout/stderr going to unlinked temporary files in a root-only folder (never
pipes: a surviving daemon cannot hang the harness). The parent watches a pidfd with a 50 ms tick:
wall time, the total output written (``Limits.output_file``) and, once a second, the workspace's
disk use and file count (``Limits.workspace``, ``Limits.workspace_files``). Any of these kills the
launcher with SIGKILL, which takes the whole pid namespace down (its init dies by parent-death
signal, and the kernel kills every process of a namespace whose init dies). Finally /proc is swept
for processes of the sandbox uid, which are SIGKILLed until none remain (a SandboxError if any
survives 5 s). ``exec`` returns only after that.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import math
import os
import pwd
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

from .base import ExecResult, Limits, Sandbox, SandboxError, environ_for_sandbox

UID_BASE = 61000
UID_COUNT = 4000
UID_LOCK_DIR = "/run/pytest-rltask-uids"
WORKDIR = "/ws"

# /etc entries a sandbox sees (read-only, when they exist). No passwd/shadow/group from the host:
# those are generated. Everything here is world-readable configuration.
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl/certs", "ssl/openssl.cnf",
    "ca-certificates.conf", "localtime", "timezone", "nsswitch.conf", "host.conf", "gai.conf",
    "protocols", "services", "mime.types", "fonts", "os-release", "debian_version", "inputrc",
    "bash.bashrc", "terminfo", "magic", "magic.mime", "shells",
)



def _sweep_uid(uid: int) -> list[int]:
    """Pids of live (non-zombie) processes whose real, effective or saved uid is ``uid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        i = data.find(b"\nUid:")
        if i < 0:
            continue
        uids = data[i + 5 : data.find(b"\n", i + 1)].split()[:3]
        if str(uid).encode() in uids:
            s = data.find(b"\nState:")
            if s >= 0 and data[s + 7 : s + 10].strip().startswith(b"Z"):
                continue
            found.append(int(name))
    return found


def _ns_link(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2 :].split()
    return rest[0].decode(), int(rest[19])


def _sweep_pidns(inode: int, since: int = 0) -> list[int]:
    """Host pids of live processes in the pid namespace with this inode that started at or after
    ``since`` (clock ticks): a later namespace that got the same inode number is not ours."""
    want = f"pid:[{inode}]"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or _ns_link(int(name)) != want:
            continue
        st = _proc_stat(int(name))
        if st is not None and st[0] not in ("Z", "X") and st[1] >= since:
            found.append(int(name))
    return found


def kill_pidns(init_pid: int, since: int, patience: float = 5.0) -> None:
    """SIGKILL the init of a sandbox's pid namespace and wait until it is a zombie or gone.

    The kernel lets a namespace's init finish exiting only after every other process of the
    namespace has been reaped, so then nothing of the sandbox runs any more. ``since`` is the
    launcher's start time (clock ticks): a process with that pid that started earlier is not ours.
    """
    deadline = time.monotonic() + patience
    delay = 0.001
    while True:
        st = _proc_stat(init_pid)
        if st is None or st[0] in ("Z", "X") or st[1] < since:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(init_pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise SandboxError(f"the sandbox's pid namespace (init {init_pid}) survived SIGKILL")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _pidns_of(status: bytes) -> tuple[int, int] | None:
    """(child-pid, pid-namespace inode) from bwrap's --json-status-fd output, if it got that far."""
    import json

    for line in status.decode(errors="replace").splitlines():
        with contextlib.suppress(ValueError, TypeError):
            doc = json.loads(line)
            if isinstance(doc, dict) and "child-pid" in doc and "pid-namespace" in doc:
                return int(doc["child-pid"]), int(doc["pid-namespace"])
    return None


def kill_uid(uid: int, patience: float = 5.0) -> int:
    """SIGKILL every process of ``uid`` until none is left; return how many were seen."""
    deadline = time.monotonic() + patience
    seen: set[int] = set()
    delay = 0.002
    while True:
        pids = _sweep_uid(uid)
        if not pids:
            return len(seen)
        seen.update(pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise SandboxError(f"processes of sandbox uid {uid} survived SIGKILL: {pids}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _uid_taken(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def allocate_uid() -> tuple[int, int]:
    """(uid, lock fd): a sandbox uid no other live Sandbox holds."""
    os.makedirs(UID_LOCK_DIR, mode=0o700, exist_ok=True)
    start = (os.getpid() * 16 + threading.get_ident()) % UID_COUNT
    for i in range(UID_COUNT):
        uid = UID_BASE + (start + i) % UID_COUNT
        if _uid_taken(uid):
            continue
        fd = os.open(f"{UID_LOCK_DIR}/{uid}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        kill_uid(uid)  # leftovers of a crashed previous holder
        return uid, fd
    raise SandboxError(f"all {UID_COUNT} sandbox uids from {UID_BASE} are in use")


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def disk_usage(root: str, max_entries: int) -> tuple[int, int]:
    """(bytes allocated, entries) under root; symlinks not followed; stops counting early."""
    total = entries = 0
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                entries += 1
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += st.st_blocks * 512
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
        if entries > max_entries:
            break
    return total, entries


def read_capped(fh, cap: int) -> tuple[str, bool]:
    """The file's text, or its head and tail (cap bytes in all) with a note, and whether cut."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    if size <= cap:
        return fh.read().decode("utf-8", errors="replace"), False
    head_n = cap // 2
    head = fh.read(head_n)
    fh.seek(size - (cap - head_n))
    tail = fh.read(cap - head_n)
    note = f"\n[... {size - cap} bytes of output omitted by the sandbox ...]\n"
    return head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace"), True


def rlimits(lim: Limits) -> dict[str, tuple[int, int]]:
    """The rlimits of agent processes; never above this process's own hard limits unless root
    (an unprivileged user cannot raise them, and prlimit would fail)."""
    import resource

    cpu = max(1, math.ceil(lim.cpu_s))
    want = {
        "RLIMIT_AS": (lim.address_space, lim.address_space),
        "RLIMIT_CPU": (cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
        "RLIMIT_NPROC": (lim.nproc, lim.nproc),
        "RLIMIT_FSIZE": (lim.file_size, lim.file_size),
        "RLIMIT_NOFILE": (lim.open_files, lim.open_files),
        "RLIMIT_CORE": (0, 0),
    }
    if os.geteuid() == 0:
        return want
    out = {}
    for name, (soft, hard) in want.items():
        cur = resource.getrlimit(getattr(resource, name))[1]
        if cur != resource.RLIM_INFINITY:
            hard = min(hard, cur)
            soft = min(soft, hard)
        out[name] = (soft, hard)
    return out


def _python_roots() -> list[str]:
    """Host folders the interpreter and venv need (read-only inside)."""
    cands = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
    }
    roots: list[str] = []
    for c in sorted({os.path.realpath(c) for c in cands} | cands, key=len):
        if not c or c == "/" or c.startswith("/usr/") or c == "/usr":
            continue
        if not any(c == r or c.startswith(r + "/") for r in roots):
            roots.append(c)
    return roots


_etc_lock = threading.Lock()
_etc_dir: str | None = None


def _etc_cache_root() -> Path | None:
    """Where the /etc template is kept between runs: outside /tmp (xdist workers and killed runs
    skip atexit, so a per-process copy in /tmp would be left behind)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = Path(base) / "pytest-rltask"
    try:
        root.mkdir(parents=True, exist_ok=True)
        return root if os.access(root, os.W_OK | os.X_OK) else None
    except OSError:
        return None


def _etc_key() -> str:
    import hashlib

    h = hashlib.sha256(b"etc-template-v2")
    for name in ETC_ENTRIES:
        try:
            st = os.lstat("/etc/" + name)
            h.update(f"{name}:{st.st_mode}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"{name}:-".encode())
    return h.hexdigest()[:16]


def _build_etc(top: str) -> None:
    etc = Path(top) / "etc"
    etc.mkdir()
    for name in ETC_ENTRIES:
        src, dst = "/etc/" + name, etc / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif os.path.isdir(src):
                shutil.copytree(src, dst, symlinks=True)
            elif os.path.isfile(src):
                shutil.copy2(src, dst)
        except OSError:
            continue  # unreadable or vanished: sandboxes do without it
    for dirpath, dirnames, filenames in os.walk(etc):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p) and not os.stat(p).st_mode & 0o004:
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    static = {
        "passwd": "", "group": "",
        "hosts": "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n",
        "hostname": "sandbox\n",
    }
    for name, text in static.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o644)
    for d in (etc, etc / "ssl"):  # folders made here, not copied
        if d.is_dir():
            d.chmod(0o755)
    os.chmod(top, 0o755)


def etc_template() -> str:
    """The host /etc entries sandboxes see, copied once (world-readable ones only).

    Kept in ``~/.cache/pytest-rltask/etc-<key>`` (key: the entries' sizes and times), made
    atomically and shared by every process; where no cache folder is writable, a per-process copy
    in the temporary folder, removed at exit. passwd and group are empty placeholders: each Sandbox
    binds its own over them.
    """
    global _etc_dir
    with _etc_lock:
        if _etc_dir is not None and os.path.isdir(_etc_dir):
            return _etc_dir
        cache = _etc_cache_root()
        if cache is None:
            top = tempfile.mkdtemp(prefix="rltask-etc-")
            atexit.register(shutil.rmtree, top, True)
            _build_etc(top)
            _etc_dir = os.path.join(top, "etc")
            return _etc_dir
        final = cache / f"etc-{_etc_key()}"
        if not (final / "etc").is_dir():
            tmp = tempfile.mkdtemp(prefix=".etc-", dir=cache)
            try:
                _build_etc(tmp)
                os.rename(tmp, final)
            except OSError:  # another process made it first
                shutil.rmtree(tmp, ignore_errors=True)
        _etc_dir = str(final / "etc")
        return _etc_dir


class FsPlan:
    """The sandbox's filesystem: what is bound read-only where, which links exist at /.

    /etc is a copy (made once per process, ``etc_template``) of the world-readable entries in
    ``ETC_ENTRIES`` plus generated hosts/hostname, with this sandbox's passwd and group bound
    over it: three bind mounts instead of dozens keep the per-exec cost down, and nothing else
    of the host's /etc is there.
    """

    def __init__(self, private: Path, uid: int, extra_ro: list[str], gid: int | None = None) -> None:
        gid = uid if gid is None else gid
        self.top_links: list[tuple[str, str]] = []  # (name at /, target)
        self.ro: list[tuple[str, str]] = [("/usr", "/usr")]  # (host path, sandbox path)
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = "/" + name
            if os.path.islink(p):
                self.top_links.append((name, os.readlink(p)))
            elif os.path.isdir(p):
                self.ro.append((p, p))
        etc = etc_template()
        self.ro.append((etc, "/etc"))
        for name, text in (
            ("passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                       f"agent:x:{uid}:{gid}:agent:/tmp:/bin/bash\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
            ("group", f"root:x:0:\nagent:x:{gid}:\nnogroup:x:65534:\n"),
        ):
            path = private / name
            if not (path.is_file() and path.read_text() == text):  # a leased folder keeps its files' times
                path.write_text(text)
                path.chmod(0o644)
            self.ro.append((str(path), "/etc/" + name))

        for r in _python_roots() + [os.path.realpath(p) for p in extra_ro]:
            if not any(r == d or r.startswith(d + "/") for _, d in self.ro) and os.path.exists(r):
                self.ro.append((r, r))

    def parents(self) -> list[str]:
        """Folders that must be created (0755) so every mount point's parents are traversable."""
        targets = [d for _, d in self.ro] + [WORKDIR]
        out: set[str] = set()
        for t in targets:
            p = os.path.dirname(t)
            while p not in ("/", ""):
                out.add(p)
                p = os.path.dirname(p)
        bound = {d for _, d in self.ro}
        return sorted(
            (p for p in out if not any(p == b or p.startswith(b + "/") for b in bound)),
            key=lambda p: p.count("/"),
        )


class IsolatedSandbox(Sandbox):
    """Base of the namespace backends. Subclasses build the launcher command."""

    workdir_path = WORKDIR
    supports_rootless: ClassVar[bool] = False  # may run for a non-root user (in a user namespace)

    def __init__(self, workspace: Path, limits: Limits | None = None, *, extra_ro: list[str] | tuple = (),
                 lease: tuple[int, int, str] | None = None) -> None:
        super().__init__(workspace, limits)
        self.rootless = os.geteuid() != 0
        if self.rootless and not self.supports_rootless:
            raise SandboxError(f"{self.isolation} sandbox needs root (to switch to a sandbox uid)")
        self._closed = False
        self._private = None
        self._exec_lock = threading.Lock()
        self._pidns: tuple[int, int] | None = None  # (init pid on the host, pid-namespace inode)
        self._since = 0  # start time (clock ticks) of the last exec's launcher
        # a lease (uid, lock fd, private folder name) from an earlier sandbox of the same rollout:
        # the same uid and the same private folder (its path shows in mountinfo), so a grading run
        # looks like the agent's own (files keep their owner and their ctime)
        self._leased = lease is not None
        if self.rootless:
            self.uid, self.gid, self._lock_fd = os.getuid(), os.getgid(), -1
            self.owner = None  # agent code runs as the harness's uid: nothing to chown
        elif lease is not None:
            self.uid, self._lock_fd = lease[0], lease[1]
            self.gid = self.uid
            self.owner = (self.uid, self.uid)
        else:
            self.uid, self._lock_fd = allocate_uid()
            self.gid = self.uid
            self.owner = (self.uid, self.uid)
        if lease is not None:
            private_name = lease[2]
        elif self.rootless:  # one uid for every sandbox of this user: a unique name
            private_name = f"rltask-sbx-{self.uid}-{secrets.token_hex(6)}"
        else:  # the uid is held by this sandbox alone
            private_name = f"rltask-sbx-{self.uid}"
        try:
            self._private = Path(tempfile.gettempdir()) / private_name
            if lease is None or not self._private.is_dir():
                shutil.rmtree(self._private, ignore_errors=True)
                self._private.mkdir(mode=0o700)
                os.chmod(self._private, 0o700)
            self.workspace = Path(workspace).resolve()
            self.workspace.mkdir(parents=True, exist_ok=True)
            if not self.rootless and not self._leased:
                chown_tree(self.workspace, self.uid, self.uid)
            if not self._leased:  # a leased workspace is set up already: no new ctimes
                os.chmod(self.workspace, 0o700)
            self.plan = FsPlan(self._private, self.uid, list(extra_ro), self.gid)
        except BaseException:
            self.close()
            raise

    def leftovers(self) -> list[int]:
        """Host pids of processes this sandbox started that are still alive (should be [])."""
        if not self.rootless:
            return _sweep_uid(self.uid)
        return _sweep_pidns(self._pidns[1], self._since) if self._pidns else []

    def _reap(self) -> None:
        """After the launcher is gone: make sure no process of the exec survives."""
        if not self.rootless:
            kill_uid(self.uid)
            return
        if self._pidns is not None:
            kill_pidns(self._pidns[0], self._since)

    @property
    def workdir(self) -> str:
        return self.workdir_path

    # -- backend hooks ----------------------------------------------------------------------
    def _command(self, argv: list[str], status_fd: int, stack: contextlib.ExitStack) -> tuple[list[str], list[int]]:
        raise NotImplementedError

    def _decode(self, returncode: int, status: bytes, stderr_head: str) -> int:
        """The agent command's exit code (-N for signal N); SandboxError if the launcher failed."""
        raise NotImplementedError

    # -- exec -------------------------------------------------------------------------------
    def exec(self, argv, *, timeout=None, stdin=None, env=None) -> ExecResult:
        # one exec at a time per Sandbox: the post-exec sweep kills everything of the uid
        with self._exec_lock:
            return self._exec(argv, timeout=timeout, stdin=stdin, env=env)

    def _exec(self, argv, *, timeout=None, stdin=None, env=None) -> ExecResult:
        if self._closed:
            raise SandboxError("sandbox is closed")
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty list of strings")
        lim = self.limits
        wall = lim.wall_s if timeout is None else timeout
        full_env = environ_for_sandbox(env)
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(tempfile.TemporaryFile(dir=self._private))
            err = stack.enter_context(tempfile.TemporaryFile(dir=self._private))
            status = stack.enter_context(tempfile.TemporaryFile(dir=self._private))
            # stdin is always a deleted file of the private folder (empty when there is none):
            # a grading run that feeds input looks like an agent's run that feeds none
            sin = stack.enter_context(tempfile.TemporaryFile(dir=self._private))
            if stdin:
                sin.write(stdin)
                sin.seek(0)
            peak = stack.enter_context(tempfile.TemporaryFile(dir=self._private))
            self._peak_fd = peak.fileno()
            self._exec_env = full_env
            cmd, fds = self._command(list(argv), status.fileno(), stack)
            if self._peak_fd in fds:
                full_env = {**full_env, "RLTASK_PEAK_FD": str(self._peak_fd)}
            t0 = time.monotonic()
            try:
                proc = subprocess.Popen(
                    cmd, stdin=sin, stdout=out, stderr=err, env=self._launcher_env(full_env), pass_fds=fds,
                    cwd="/", start_new_session=True,
                )
            except OSError as e:
                raise SandboxError(f"cannot start the {self.isolation} launcher: {e}") from e
            st = _proc_stat(proc.pid)
            self._since = st[1] if st else 0
            reason = None
            try:
                reason = self._watch(proc, t0 + wall, out, err)
            finally:
                if proc.returncode is None:  # an exception in the watcher: never leave it running
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                status.seek(0)
                self._pidns = _pidns_of(status.read(65536))
                self._reap()
            duration = time.monotonic() - t0
            sizes = (os.fstat(out.fileno()).st_size, os.fstat(err.fileno()).st_size)
            stdout, t_out = read_capped(out, lim.output)
            stderr, t_err = read_capped(err, lim.output)
            status.seek(0)
            status_bytes = status.read(65536)
            peak.seek(0)
            peak_bytes = peak.read(4096) + b"\n" + status_bytes
        exit_code: int | None
        if reason is None:
            exit_code = self._decode(proc.returncode, status_bytes, stderr[:2000])
        else:
            exit_code = None
        truncated = t_out or t_err
        limit = reason
        if limit is None:
            used, entries = disk_usage(str(self.workspace), lim.workspace_files)
            tail = stderr[-4000:]
            if max(sizes) >= lim.file_size or sum(sizes) > lim.output_file:
                limit = "output"  # stdout/stderr hit the file-size limit: that is endless output
            elif exit_code == -signal.SIGXCPU:
                limit = "cpu_time"
            elif exit_code == -signal.SIGXFSZ or (exit_code and "File too large" in tail):
                limit = "file_size"
            elif exit_code and any(s in tail for s in ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")):
                limit = "memory"
            elif used > lim.workspace or entries > lim.workspace_files:
                limit = "workspace"
            elif truncated:
                limit = "output"
        return ExecResult(
            exit_code=exit_code, stdout=stdout, stderr=stderr, duration_s=duration,
            timed_out=reason == "wall_time", truncated=truncated, limit=limit,
            peak_rss=_peak_of(peak_bytes),
        )

    def _watch(self, proc: subprocess.Popen, deadline: float, out, err) -> str | None:
        lim = self.limits
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # kernel < 5.3: poll the child instead
            pidfd = None
        reason = None
        try:
            poller = select.poll()
            if pidfd is not None:
                poller.register(pidfd, select.POLLIN)
            next_disk = time.monotonic() + 1.0
            while True:
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    reason = "wall_time"
                    break
                if pidfd is None:
                    time.sleep(min(left, 0.01))
                    if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                        break
                elif poller.poll(max(1, math.ceil(min(left, 0.05) * 1000))):
                    break
                if os.fstat(out.fileno()).st_size + os.fstat(err.fileno()).st_size > lim.output_file:
                    reason = "output"
                    break
                if now >= next_disk:
                    used, entries = disk_usage(str(self.workspace), lim.workspace_files)
                    if used > lim.workspace or entries > lim.workspace_files:
                        reason = "workspace"
                        break
                    next_disk = time.monotonic() + 1.0
            if reason is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
            _, wstatus, _ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(wstatus)

        finally:
            if pidfd is not None:
                os.close(pidfd)
        return reason

    def _launcher_env(self, sandbox_env: dict[str, str]) -> dict[str, str]:
        """The launcher's own environment: the sandbox's (nothing inherited), unless a backend's
        launcher is a client that needs its own settings (docker: DOCKER_HOST...)."""
        return sandbox_env

    # -- helpers for subclasses ---------------------------------------------------------------
    def _setpriv(self) -> list[str]:
        return [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
        ]

    @staticmethod
    def _pipe_with(data: bytes, stack: contextlib.ExitStack) -> int:
        r, w = os.pipe()
        try:
            os.write(w, data)
        finally:
            os.close(w)
        stack.callback(os.close, r)
        return r

    def detach_lease(self) -> tuple[int, int, str] | None:
        """Keep this sandbox's uid (and private folder name) after ``close`` and hand them over,
        for the rollout's later sandboxes (see ``release_lease``)."""
        if self._lock_fd is None or self._private is None:
            return None
        self._leased = True
        return (self.uid, self._lock_fd, self._private.name)

    def close(self) -> None:
        fd = getattr(self, "_lock_fd", None)
        if fd is None:
            return
        self._closed = True
        try:
            if not getattr(self, "rootless", False):
                kill_uid(self.uid)
            elif self._pidns is not None:
                kill_pidns(self._pidns[0], self._since)
        finally:
            if getattr(self, "_private", None) is not None and not getattr(self, "_leased", False):
                shutil.rmtree(self._private, ignore_errors=True)  # leased: release_lease removes it
            self._lock_fd = None
            if fd >= 0 and not getattr(self, "_leased", False):
                os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _peak_of(data: bytes) -> int | None:
    """The ``peak <bytes>`` line the trusted witness (``_reaper`` / ``_nsinit``) wrote, if any."""
    for line in data.splitlines():
        if line.startswith(b"peak "):
            with contextlib.suppress(ValueError):
                return int(line.split()[1])
    return None


REAPER_SOURCE = (Path(__file__).with_name("_reaper.py")).read_text()


def release_lease(lease: tuple[int, int, str]) -> None:
    """End a lease: kill whatever still runs as the sandbox uid, then free it (rootless: nothing
    runs outside a pid namespace that is gone, and the uid is the harness's own)."""
    uid, fd, name = lease
    try:
        if fd >= 0:
            kill_uid(uid)
    finally:
        shutil.rmtree(Path(tempfile.gettempdir()) / name, ignore_errors=True)
        if fd >= 0:
            os.close(fd)


def probe(cls: type[IsolatedSandbox]) -> str | None:
    """Run a trivial command through the backend; None if it works and runs the venv's python."""
    try:
        with tempfile.TemporaryDirectory(prefix="rltask-probe-") as d:
            with cls(Path(d) / "ws", Limits(wall_s=30)) as sb:
                res = sb.exec([sb.python_executable(), "-I", "-c", "import sys; print(sys.prefix)"])
        got = res.stdout.strip()
        if res.exit_code != 0 or os.path.realpath(got or "/nonexistent") != os.path.realpath(sys.prefix):
            return (f"trial run of {sb.python_executable()} failed (exit {res.exit_code}, prefix {got!r} "
                    f"instead of {sys.prefix!r}): {res.stderr.strip()[:300]}")
    except (SandboxError, OSError) as e:
        return f"trial run failed: {e}"
    return None
