#!/usr/bin/python3
"""cpuacct_check.py - the CPU split (pylib cpuacct) adds up, TAP."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pylib"))
from prestack_lib import cpuacct  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402



def fake(t, tasks, kthreads):
    s = cpuacct.Sample.__new__(cpuacct.Sample)
    s.t, s.cpus, s.redis_s, s.extra_s, s.children_s, s.progs = t, {}, 0.0, 0.0, 0.0, {}
    s.tasks_s, s.kthreads = tasks, kthreads
    return s


hz = cpuacct.HZ
# a kworker with 300 ticks of its life behind it exits in the window: the
# sum loses them, the delta gives them back; one that stays counts as is
a = fake(0.0, 1000 / hz, {("40", "7"): 300, ("41", "8"): 50})
b = fake(1.0, 760 / hz, {("41", "8"): 60})
ok(abs((b - a)["tasks_s"] - 60 / hz) < 1e-9, "a kernel thread that exited does not take its past out of the delta")
# the same PID, another thread (another start time): the old one left
b = fake(1.0, 760 / hz, {("41", "8"): 60, ("40", "99"): 0})
ok(abs((b - a)["tasks_s"] - 60 / hz) < 1e-9, "a reused PID is another kernel thread (start time compared)")

# live: a child that burns ~0.5 s of CPU; the all-task delta holds it
# and split's terms add up to the busy time
a = cpuacct.Sample(0)
subprocess.run(["/usr/bin/python3", "-c", "import time\nt = time.process_time()\n"
                "while time.process_time() - t < 0.5: pass"], check=True)
d = cpuacct.Sample(0, end=True) - a
sp = cpuacct.split(d)
ok(d["children_s"] >= 0.45, f"the child's CPU in children_s ({d['children_s']:.3f} s)")
ok(sp["other_tasks_s"] >= -0.1,
   f"other tasks not negative beyond /proc's rounding ({sp['other_tasks_s']} s)")
total = sp["redis_s"] + sp["extra_s"] + sp["children_s"] + sp["other_tasks_s"] + sp["idle_irq_s"]
ok(abs(total - sp["busy_s"]) < 0.005, f"the terms add up to the busy time ({total:.3f} vs {sp['busy_s']})")
done()
