"""livelock.py - the lock every user of the testbed holds: the testbed's
namespaces, interfaces and Redis are shared by name across worktrees, so
live tests and experiments take /tmp/prestack-live.lock, the same flock(2)
as `flock /tmp/prestack-live.lock CMD`.

  with live_lock("rep 1"):     # waits for the lock, says how long it held it
      ...                      # (a no-op when an ancestor holds it already)
"""
import contextlib
import fcntl
import os
import time

LOCK = "/tmp/prestack-live.lock"


def lock_held_above():
    """Whether a process we descend from holds LOCK already (this run was
    started as `flock /tmp/prestack-live.lock make ...`): then taking it
    again would wait for ourselves. From /proc/locks: FLOCK entries on
    LOCK's inode, and their holders' pids against our ancestors."""
    try:
        st = os.stat(LOCK)
    except OSError:
        return False
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = {int(f[4]) for f in (line.split() for line in open("/proc/locks"))
               if len(f) > 5 and f[1] == "FLOCK" and f[5] == inode}
    pid = os.getppid()
    while pid > 1:
        if pid in holders:
            return True
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


@contextlib.contextmanager
def live_lock(what, budget_s=300):
    """Hold LOCK for the block and say how long it was held (over budget_s
    is flagged), unless a process above us holds it for this whole run."""
    if lock_held_above():
        yield
        return
    with open(LOCK, "a") as f:
        t0 = time.monotonic()
        fcntl.flock(f, fcntl.LOCK_EX)
        t1 = time.monotonic()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            held = time.monotonic() - t1
            print(f"# lock: {what}: waited {t1 - t0:.0f} s, held {held:.0f} s"
                  f"{'  (over budget!)' if held > budget_s else ''}", flush=True)
