"""Init process of the "unshare" backend (stdlib only; run as ``python -I -S _nsinit.py CONFIG``).

CONFIG is ``marshal.dumps(dict).hex()`` (marshal, not json: importing json costs ~25 ms).

``unshare --mount --net --pid --ipc --uts --cgroup --fork --kill-child`` starts this file as
root and as pid 1 of fresh namespaces. It builds a new root on a tmpfs (the same shape as the
bubblewrap backend: /usr read-only, a few /etc files, the interpreter and venv read-only, the
workspace read-write at /ws, private /tmp, /dev, /proc), pivots into it and detaches the host's
tree, brings loopback up, then forks the agent command: rlimits, the seccomp filter, then
``setpriv`` to the sandbox uid. It stays as a root init that reaps orphans; when the agent
command exits it writes the exact wait status to the status fd and exits, which makes the
kernel kill every process left in the pid namespace.
"""
import ctypes
import fcntl
import marshal
import os
import resource
import struct
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _b(s):
    return None if s is None else os.fsencode(s)


def mount(src, dst, fstype=None, flags=0, data=None):
    if libc.mount(_b(src), _b(dst), _b(fstype), flags, _b(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount({src!r}, {dst!r}, {fstype!r}): {os.strerror(e)}")


def bind(src, dst, ro=True, rec=True, dev=False):
    mount(src, dst, None, MS_BIND | (MS_REC if rec else 0))
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if dev else MS_NODEV) | (MS_RDONLY if ro else 0)
    mount(None, dst, None, flags)


def makedirs(path, mode=0o755):
    """mkdir -p with an explicit mode for every created level (no 0700 parents: trap 2)."""
    parts = [p for p in path.split("/") if p]
    cur = ""
    for p in parts:
        cur += "/" + p
        if not os.path.lexists(cur):
            os.mkdir(cur)
            os.chmod(cur, mode)


def place(src, dst):
    """Create an empty mount point at dst shaped like src (dir or file)."""
    if os.path.isdir(src):
        makedirs(dst)
    else:
        makedirs(os.path.dirname(dst))
        if not os.path.lexists(dst):
            os.close(os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644))


def build_root(cfg):
    new = cfg["stage"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    r = lambda p: new + p  # noqa: E731
    # /tmp first: a venv under /tmp (a clone in /tmp) is then bound on top of it, not hidden by it
    makedirs(r("/tmp"))
    mount("tmpfs", r("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={cfg['tmp']}")
    for name, target in cfg["top_links"]:
        os.symlink(target, r("/" + name))
    for src, dst in cfg["ro"]:
        place(src, r(dst))
        bind(src, r(dst))
    makedirs(r(cfg["workdir"]))
    bind(cfg["workspace"], r(cfg["workdir"]), ro=False)
    # /dev: a few safe nodes bound from the host, private shm, devpts-less
    makedirs(r("/dev"))
    mount("tmpfs", r("/dev"), "tmpfs", MS_NOSUID, "mode=0755,size=64k")
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + node):
            place("/dev/" + node, r("/dev/" + node))
            bind("/dev/" + node, r("/dev/" + node), ro=False, rec=False, dev=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, r("/dev/" + name))
    os.mkdir(r("/dev/shm"))
    mount("tmpfs", r("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={cfg['tmp']}")
    # /proc of our new pid namespace
    makedirs(r("/proc"))
    mount("proc", r("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # pivot into the new root and detach the host's tree
    os.chdir(new)
    if libc.syscall(SYS_PIVOT_ROOT, b".", b".") != 0:
        e = ctypes.get_errno()
        raise OSError(e, "pivot_root: " + os.strerror(e))
    if libc.umount2(b".", MNT_DETACH) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "umount2(old root): " + os.strerror(e))
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=0755,size=4m")


def loopback_up():
    s = libc.socket(2, 2, 0)  # AF_INET, SOCK_DGRAM (no socket module: it imports enum)
    if s < 0:
        raise OSError(ctypes.get_errno(), "socket")
    try:
        ifr = fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0))  # SIOCGIFFLAGS
        flags = struct.unpack("16sH22x", ifr)[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP
    finally:
        os.close(s)


def install_seccomp(prog):
    n = len(prog) // 8
    buf = ctypes.create_string_buffer(prog, len(prog))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fp = Fprog(n, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fp), 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "seccomp: " + os.strerror(e))


def child(cfg, status_fd):
    os.close(status_fd)
    os.setsid()
    os.chdir(cfg["workdir"])
    for name, value in cfg["rlimits"].items():
        soft, hard = value
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if cfg.get("seccomp"):
        install_seccomp(bytes.fromhex(cfg["seccomp"]))
    os.execve(cfg["setpriv"][0], cfg["setpriv"] + ["--"] + cfg["argv"], os.environ)


def main():
    cfg = marshal.loads(bytes.fromhex(sys.argv[1]))
    status_fd = cfg["status_fd"]
    os.set_inheritable(status_fd, False)
    try:
        build_root(cfg)
        libc.sethostname(b"sandbox", 7)
        loopback_up()
    except BaseException as e:  # noqa: BLE001
        os.write(status_fd, f"error {type(e).__name__}: {e}\n".encode())
        os._exit(125)
    pid = os.fork()
    if pid == 0:
        try:
            child(cfg, status_fd)
        except BaseException as e:  # noqa: BLE001
            os.write(2, f"sandbox: cannot start {cfg['argv'][:1]}: {e}\n".encode())
        os._exit(127)
    os.write(status_fd, b"started\n")
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = None
            break
        except InterruptedError:
            continue
        if got == pid:
            break
    # trusted peak-memory witness: the largest process reaped, or still alive now (see _reaper)
    import resource
    import signal

    live_peak = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmHWM:"):
                            live_peak = max(live_peak, int(line.split()[1]) * 1024)
                            break
            except (OSError, ValueError):
                pass
    # end what the command left and reap every zombie: a child no live process waited for counts
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    peak = max(live_peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
    os.write(status_fd, f"peak {peak}\nstatus {status}\n".encode())
    os._exit(0)


if __name__ == "__main__":
    main()
