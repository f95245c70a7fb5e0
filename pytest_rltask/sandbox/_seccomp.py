"""A tiny seccomp filter (classic BPF, built by hand: no libseccomp needed).

Agent processes run as an unprivileged uid in the host's user namespace. On this kernel an
unprivileged user may create user namespaces (and with them mount, net and pid namespaces it is
"root" in), which widens the kernel attack surface and defeats "no nested namespaces". The filter:

* ``unshare``/``clone`` with ``CLONE_NEWUSER``: EPERM;
* ``clone3``: ENOSYS (its flags live in memory BPF cannot read; glibc then falls back to
  ``clone``, which is checked) — the same choice as Docker's and Flatpak's default profiles;
* any syscall from a non-x86_64 ABI (i386 ``int 0x80``, x32): the process is killed.

Everything else is allowed. Only x86_64 hosts get a filter; elsewhere ``program()`` returns None
and the backends run without one (documented in their ``isolation_notes``).
"""
from __future__ import annotations

import platform
import struct

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_AUDIT_ARCH_X86_64 = 0xC000003E
_RET_KILL_PROCESS = 0x80000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM = 1
_ENOSYS = 38
_CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000
_NR_CLONE = 56
_NR_UNSHARE = 272
_NR_CLONE3 = 435

# offsets in struct seccomp_data
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0 = 16  # low 32 bits on little-endian


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes | None:
    """The filter as ``struct sock_filter[]`` bytes (what ``bwrap --seccomp FD`` reads)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    prog = [
        _ins(_LD_W_ABS, 0, 0, _OFF_ARCH),  # 0
        _ins(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),  # 1: x86_64 -> 3
        _ins(_RET_K, 0, 0, _RET_KILL_PROCESS),  # 2
        _ins(_LD_W_ABS, 0, 0, _OFF_NR),  # 3
        _ins(_JGE_K, 0, 1, _X32_BIT),  # 4: x32 -> 5, else 6
        _ins(_RET_K, 0, 0, _RET_KILL_PROCESS),  # 5
        _ins(_JEQ_K, 0, 1, _NR_CLONE3),  # 6
        _ins(_RET_K, 0, 0, _RET_ERRNO | _ENOSYS),  # 7
        _ins(_JEQ_K, 2, 0, _NR_UNSHARE),  # 8 -> 11
        _ins(_JEQ_K, 1, 0, _NR_CLONE),  # 9 -> 11
        _ins(_RET_K, 0, 0, _RET_ALLOW),  # 10
        _ins(_LD_W_ABS, 0, 0, _OFF_ARG0),  # 11
        _ins(_JSET_K, 0, 1, _CLONE_NEWUSER),  # 12: flag set -> 13, else 14
        _ins(_RET_K, 0, 0, _RET_ERRNO | _EPERM),  # 13
        _ins(_RET_K, 0, 0, _RET_ALLOW),  # 14
    ]
    return b"".join(prog)
