"""A tiny seccomp filter (classic BPF, built by hand: no libseccomp needed).

Agent processes run as an unprivileged uid in the host's user namespace. On this kernel an
unprivileged user may create user namespaces (and with them mount, net and pid namespaces it is
"root" in), which widens the kernel attack surface and defeats "no nested namespaces". The filter:

* ``unshare``/``clone`` with ``CLONE_NEWUSER``: EPERM;
* ``clone3``: ENOSYS (its flags live in memory BPF cannot read; glibc then falls back to
  ``clone``, which is checked) — the same choice as Docker's and Flatpak's default profiles;
* ``add_key``/``request_key``/``keyctl``: EPERM (kernel keyrings are per uid, not namespaced;
  a persistent keyring could carry data from one rollout to a later one with the same uid);
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
_NR_ADD_KEY = 248
_NR_REQUEST_KEY = 249
_NR_KEYCTL = 250

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
    eperm, enosys = _RET_ERRNO | _EPERM, _RET_ERRNO | _ENOSYS
    # (opcode, k, jump-if-true label, jump-if-false label); labels resolve to relative offsets
    code: list[tuple] = [
        ("ld", _OFF_ARCH),
        ("jeq", _AUDIT_ARCH_X86_64, "nr", "kill"),
        ("nr:ld", _OFF_NR),
        ("jge", _X32_BIT, "kill", None),
        ("jeq", _NR_CLONE3, "enosys", None),
        ("jeq", _NR_ADD_KEY, "eperm", None),
        ("jeq", _NR_REQUEST_KEY, "eperm", None),
        ("jeq", _NR_KEYCTL, "eperm", None),
        ("jeq", _NR_UNSHARE, "flags", None),
        ("jeq", _NR_CLONE, "flags", None),
        ("ret", _RET_ALLOW),
        ("flags:ld", _OFF_ARG0),
        ("jset", _CLONE_NEWUSER, "eperm", None),
        ("ret", _RET_ALLOW),
        ("eperm:ret", eperm),
        ("enosys:ret", enosys),
        ("kill:ret", _RET_KILL_PROCESS),
    ]
    labels = {c[0].split(":")[0]: i for i, c in enumerate(code) if ":" in c[0]}
    ops = {"ld": _LD_W_ABS, "ret": _RET_K, "jeq": _JEQ_K, "jge": _JGE_K, "jset": _JSET_K}
    out = []
    for i, c in enumerate(code):
        op = c[0].split(":")[-1]
        if op in ("ld", "ret"):
            out.append(_ins(ops[op], 0, 0, c[1]))
        else:
            jt = 0 if c[2] is None else labels[c[2]] - i - 1
            jf = 0 if c[3] is None else labels[c[3]] - i - 1
            out.append(_ins(ops[op], jt, jf, c[1]))
    return b"".join(out)
