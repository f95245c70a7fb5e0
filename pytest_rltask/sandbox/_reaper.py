"""Trusted peak-memory witness inside a sandbox: ``python -I -S -c SOURCE WHERE -- ARGV``.

As root it runs before the uid switch (so agent processes can neither signal nor trace it);
rootless it runs as the agent's uid, as the pid namespace's init (bwrap ``--as-pid-1``: the kernel
drops signals sent to it from inside, SIGKILL included) and non-dumpable (no ptrace, no
/proc/<pid>/fd or mem). It makes itself
the child subreaper, runs ARGV, reaps every descendant that ends, and when ARGV's own process has
exited writes one line ``peak <bytes>`` to WHERE (see ``main``): the kernel's resident-memory high-water mark of the
largest process it reaped (``RUSAGE_CHILDREN``), or of any process still alive then (``VmHWM``).
The exit status is passed through. Nothing here is visible to or writable by agent code: the fd
is not inherited by ARGV and its number travels in the environment (which other uids cannot read
in /proc), so the command line agent code can read is the same for every exec; the line is read
by the harness after the namespace is gone.
"""
import ctypes
import os
import time
import resource
import sys

PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


def hwm_of_live() -> int:
    best = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        best = max(best, int(line.split()[1]) * 1024)
                        break
        except (OSError, ValueError):
            continue
    return best


SAMPLE_S = 0.01


def total_now() -> int:
    """Resident bytes of every other process now, plus what memfds and /tmp, /dev/shm hold."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    me = os.getpid()
    memfds: set[tuple[int, int]] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        try:  # a memfd's pages belong to no process's RSS until mapped: count each file once
            for fd in os.listdir(f"/proc/{name}/fd"):
                path = f"/proc/{name}/fd/{fd}"
                if os.readlink(path).startswith("/memfd:"):
                    st = os.stat(path)
                    if (st.st_dev, st.st_ino) not in memfds:
                        memfds.add((st.st_dev, st.st_ino))
                        total += st.st_blocks * 512
        except OSError:
            continue
    for folder in ("/tmp", "/dev/shm"):
        try:
            st = os.statvfs(folder)
            total += (st.f_blocks - st.f_bfree) * st.f_frsize
        except OSError:
            continue
    return total


def main() -> None:
    # sys.argv is ['-c', '--', *ARGV]: the source travels on the command line because the
    # package's own folder is not mounted in the sandbox
    # WHERE: "env" (bubblewrap: an inherited descriptor whose number is in RLTASK_PEAK_FD, so the
    # command line agent code can read is the same for every exec), FD, or /PATH: a file in a
    # folder only root may enter (docker: an anonymous volume the harness copies out once the
    # container has stopped)
    where = sys.argv[1]
    argv = sys.argv[3:]
    if where == "env":
        fd = int(os.environ.pop("RLTASK_PEAK_FD"))
    elif where.startswith("/"):
        os.makedirs(os.path.dirname(where), exist_ok=True)
        os.chmod(os.path.dirname(where), 0o700)
        fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    else:
        fd = int(where)
    os.set_inheritable(fd, False)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # rootless, agent code has our uid: non-dumpable, it cannot ptrace us or open /proc/<us>/fd
    # (execve makes the agent's own processes dumpable again)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # as a pid namespace's init (bwrap --as-pid-1) the kernel drops signals from inside that we
    # have no handler for: keep none (Python's own SIGINT handler would let agent code stop us)
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)  # docker images: prlimit by PATH (RLTASK_PEAK_FD is gone)
        finally:
            os._exit(127)
    status = 0
    # Sample, every SAMPLE_S, the sandbox's whole resident memory: the sum over its processes plus
    # what its tmpfs folders hold. The high-water marks alone miss memory split over processes,
    # held in memfds or tmpfs files, or hidden by resetting a process's own mark
    # (/proc/self/clear_refs); a sample catches any of them held for longer than SAMPLE_S.
    sampled = 0
    while True:
        try:
            got, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if got == pid:
            status = st
            break
        if got == 0:
            sampled = max(sampled, total_now())
            time.sleep(SAMPLE_S)
    live = max(hwm_of_live(), sampled)
    # the command is over: end what it left (we are the namespace's init, so -1 is the namespace)
    # and reap every zombie, so a child that a live process never waited for is counted too
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
            block = 0  # all are dying: wait for each
        except OSError:  # not allowed to signal them (no CAP_KILL): reap the zombies there are
            block = os.WNOHANG
        while True:
            try:
                if os.waitpid(-1, block) == (0, 0):
                    break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, live)
    # bwrap's own convention for "killed by signal N" (an init cannot kill itself with it)
    code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else (
        os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128)
    try:
        os.write(fd, f"peak {peak}\nexit {code}\n".encode())
    except OSError:
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
