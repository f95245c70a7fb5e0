"""Trusted peak-memory witness inside a sandbox: ``python -I -S -c SOURCE -- ARGV``.

It runs before the uid switch (so agent processes can neither signal nor trace it), makes itself
the child subreaper, runs ARGV, reaps every descendant that ends, and when ARGV's own process has
exited writes one line ``peak <bytes>`` to the fd named by ``RLTASK_PEAK_FD``: the kernel's resident-memory high-water mark of the
largest process it reaped (``RUSAGE_CHILDREN``), or of any process still alive then (``VmHWM``).
The exit status is passed through. Nothing here is visible to or writable by agent code: the fd
is not inherited by ARGV and its number travels in the environment (which other uids cannot read
in /proc), so the command line agent code can read is the same for every exec; the line is read
by the harness after the namespace is gone.
"""
import ctypes
import os
import resource
import sys

PR_SET_CHILD_SUBREAPER = 36


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


def main() -> None:
    # sys.argv is ['-c', '--', *ARGV]: the source travels on the command line because the
    # package's own folder is not mounted in the sandbox
    fd = int(os.environ.pop("RLTASK_PEAK_FD"))
    argv = sys.argv[2:]
    os.set_inheritable(fd, False)
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, os.environ)
        finally:
            os._exit(127)
    status = 0
    while True:
        try:
            got, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if got == pid:
            status = st
            break
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, hwm_of_live())
    try:
        os.write(fd, f"peak {peak}\n".encode())
    except OSError:
        pass
    if os.WIFSIGNALED(status):
        import signal

        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the workspace
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128)


if __name__ == "__main__":
    main()
