"""bpfmap.py - read prestack's pinned counters straight from the kernel with
the bpf(2) syscall (ctypes, no libbpf), fast enough to read them around
every single request of a workload: `prestack stats` forks a process.

  c = Counters("/sys/fs/bpf/prestack/<netns>/<dev>")
  c.read()  -> {"get_hits": n, ...}   (per-CPU values summed)
"""
import ctypes
import os
import re

from . import TOP

_SYS_BPF = 321          # x86_64
_BPF_MAP_LOOKUP_ELEM = 1
_BPF_OBJ_GET = 7
_libc = ctypes.CDLL(None, use_errno=True)


class _ObjGet(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32),
                ("file_flags", ctypes.c_uint32), ("pad", ctypes.c_uint8 * 112)]


class _Elem(ctypes.Structure):
    _fields_ = [("map_fd", ctypes.c_uint32), ("pad0", ctypes.c_uint32),
                ("key", ctypes.c_uint64), ("value", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("pad", ctypes.c_uint8 * 96)]


def _bpf(cmd, attr):
    r = _libc.syscall(_SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def stat_names():
    """The counter names of xdp/prestack.h (its PS_STATS list), in index order."""
    src = open(os.path.join(TOP, "xdp", "prestack.h")).read()
    body = src[src.index("#define PS_STATS(X)"):]
    body = body[:body.index("\n\n")]
    return re.findall(r"^\s*X\([A-Z0-9_]+, ([a-z_0-9]+),", body, re.M)


def _possible_cpus():
    n = 0
    for part in open("/sys/devices/system/cpu/possible").read().strip().split(","):
        lo, _, hi = part.partition("-")
        n = max(n, int(hi or lo) + 1)
    return n


class Counters:
    def __init__(self, pin_dir, names=None):
        path = os.path.join(pin_dir, "ps_stats").encode()
        buf = ctypes.create_string_buffer(path)
        a = _ObjGet(pathname=ctypes.addressof(buf))
        self.fd = _bpf(_BPF_OBJ_GET, a)
        self.names = names or stat_names()
        self.ncpu = _possible_cpus()
        self.key = ctypes.c_uint32(0)
        self.val = (ctypes.c_uint64 * self.ncpu)()
        self.attr = _Elem(map_fd=self.fd, key=ctypes.addressof(self.key),
                          value=ctypes.addressof(self.val))

    def get(self, name):
        self.key.value = self.names.index(name)
        _bpf(_BPF_MAP_LOOKUP_ELEM, self.attr)
        return sum(self.val)

    def read(self, names=None):
        return {n: self.get(n) for n in (names or self.names)}

    def close(self):
        os.close(self.fd)
