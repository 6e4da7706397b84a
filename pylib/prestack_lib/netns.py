"""netns.py - run Python code inside a named network namespace (sockets
opened there stay there), without a subprocess."""
import ctypes
import os

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET):
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def enter(name):
    """Move this thread into namespace `name` (ip netns) for good."""
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def in_netns(name, fn):
    """fn() inside namespace `name`, then back where we were."""
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        enter(name)
        return fn()
    finally:
        _setns(here)
        os.close(here)
