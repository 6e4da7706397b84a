"""cpuacct.py - CPU time of one run, split by who spent it, from counters
the kernel keeps anyway (no perf, no hardware counters):

  Sample(redis_pid, prog_ids)  - a snapshot; `b - a` gives the deltas:
    cpus[i] = {'softirq_s', 'busy_s', ...}       /proc/stat per CPU: busy_s
                                                  is the wall time less idle,
                                                  iowait and steal (kept
                                                  exactly), not the ticks
    redis_s                                       redis-server's utime+stime
                                                  (/proc/PID/stat, every thread)
    children_s                                    this process's waited-for
                                                  children (getrusage): the
                                                  load generator run between
    tasks_s                                       every task's utime+stime,
                                                  and its waited-for children's
                                                  (/proc/*/stat): what the
                                                  tick charged to some task;
                                                  kernel threads that exit
                                                  between two samples are
                                                  added back (no one reaps
                                                  their time)
    progs[id] = {'name', 'type', 'run_time_ns', 'run_cnt'}
                                                  `bpftool prog show --json`,
                                                  with kernel.bpf_stats_enabled=1

split(d): the busy time of a delta d, cut so that it adds up (the kernel
here has tick-based accounting without CONFIG_IRQ_TIME_ACCOUNTING: a tick
that lands in softirq is charged both to the softirq column of /proc/stat
and to the stime of the task it interrupted, so "processes + softirq"
counts it twice and a remainder computed that way goes negative):

    busy_s = redis_s + extra_s + children_s + other_tasks_s + idle_irq_s

  other_tasks_s  every other task (kernel threads such as ksoftirqd
                 included), from the all-task sum
  idle_irq_s     busy - all tasks: softirq and irq ticks that interrupted
                 the idle task, charged to no process (>= 0 but for the
                 rounding of /proc/PID/stat, which counts in 10 ms units
                 per process and field: a few tens of ms in all)
  softirq_s      the softirq column, for reference only: it overlaps the
                 other terms (it is inside whichever task a tick hit)

bpf_stats(): a context manager that sets kernel.bpf_stats_enabled to 1 and
puts the old value back (the sysctl is global: it adds two clock reads to
every BPF program run on the machine while it is on)."""
import contextlib
import json
import os
import resource
import subprocess
import time

HZ = os.sysconf("SC_CLK_TCK")
SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"

@contextlib.contextmanager
def bpf_stats():
    old = open(SYSCTL).read().strip()
    with open(SYSCTL, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(SYSCTL, "w") as f:
            f.write(old)

def _cpus():
    out = {}
    for line in open("/proc/stat"):
        f = line.split()
        if not f or not f[0].startswith("cpu") or f[0] == "cpu":
            continue
        v = [int(x) for x in f[1:9]]   # user nice system idle iowait irq softirq steal
        # idle and iowait are kept exactly (nohz idle accounting); the
        # busy columns are sampled by the tick (250 Hz here), which
        # misses much of a load that runs in bursts shorter than a tick
        # and sleeps between them: busy_s is therefore the wall time
        # less idle, iowait and steal (__sub__), tick_busy_s the sum
        out[int(f[0][3:])] = {"softirq_s": v[6] / HZ, "idle_s": (v[3] + v[4]) / HZ,
                              "steal_s": v[7] / HZ, "tick_busy_s": (sum(v) - v[3] - v[4] - v[7]) / HZ}
    return out

def _proc_cpu(pid):
    if not pid:
        return 0.0
    try:
        st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(st[11]) + int(st[12])) / HZ

PF_KTHREAD = 0x00200000

def _all_tasks():
    """(sum, kthreads): utime+stime+cutime+cstime over every process, and
    {(pid, starttime): utime+stime} of the kernel threads among them. A
    process's threads are in its own line; an exited child's time is in
    its reaper's c-fields once reaped (the load generator's in ours). A
    kernel thread that exits is reaped by no one: its whole time leaves
    the sum (an unbound kworker idle for minutes is destroyed, taking
    seconds of netns cleanup with it), so a delta adds the kthreads that
    went away back (Sample.__sub__)."""
    tot = 0
    kth = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue   # exited meanwhile
        t = int(st[11]) + int(st[12]) + int(st[13]) + int(st[14])
        tot += t
        if int(st[6]) & PF_KTHREAD:
            kth[(pid, st[19])] = t
    return tot / HZ, kth

def prog_stats(ids):
    """{id: name, type, run_time_ns, run_cnt} of the BPF programs ids
    (bpftool prog show; the times count only while bpf_stats is on)."""
    if not ids:
        return {}
    r = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True)
    out = {}
    if r.returncode:
        return out
    for p in json.loads(r.stdout or "[]"):
        if p.get("id") in ids:
            out[p["id"]] = {"name": p.get("name", "?"), "type": p.get("type", "?"),
                            "run_time_ns": p.get("run_time_ns", 0), "run_cnt": p.get("run_cnt", 0)}
    return out

class Sample:
    def __init__(self, redis_pid, prog_ids=(), extra_pids=(), end=False):
        """end: the sample that closes a run. bpftool is a child too: it
        runs before the start sample's clocks and after the end's, so its
        own CPU time never lands in children_s."""
        if not end:
            self.progs = prog_stats(set(prog_ids))
        self.t = time.monotonic()
        self.cpus = _cpus()
        self.redis_s = _proc_cpu(redis_pid)
        self.extra_s = sum(_proc_cpu(p) for p in extra_pids)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children_s = ru.ru_utime + ru.ru_stime
        self.tasks_s, self.kthreads = _all_tasks()
        if end:
            self.progs = prog_stats(set(prog_ids))

    def __sub__(self, a):
        """self - a: what was spent between sample a and this one."""
        d = {"wall_s": self.t - a.t, "redis_s": self.redis_s - a.redis_s,
             "extra_s": self.extra_s - a.extra_s, "children_s": self.children_s - a.children_s,
             # a kernel thread gone since a took its time out of the sum
             "tasks_s": self.tasks_s - a.tasks_s + sum(
                 t for k, t in a.kthreads.items() if k not in self.kthreads) / HZ,
             "cpus": {}, "progs": {}}
        for c, v in self.cpus.items():
            if c in a.cpus:
                d["cpus"][c] = {k: v[k] - a.cpus[c][k] for k in v}
                d["cpus"][c]["busy_s"] = max(0.0, d["wall_s"] - d["cpus"][c]["idle_s"]
                                             - d["cpus"][c]["steal_s"])
        for i, p in self.progs.items():
            if i in a.progs:
                d["progs"][i] = {"name": p["name"], "type": p["type"],
                                 "run_time_ns": p["run_time_ns"] - a.progs[i]["run_time_ns"],
                                 "run_cnt": p["run_cnt"] - a.progs[i]["run_cnt"]}
        return d

def split(d):
    """The busy time of delta d cut into terms that add up to it (see the
    module's docstring), rounded to ms: busy_s, redis_s, extra_s,
    children_s, other_tasks_s, idle_irq_s, softirq_s (reference only)."""
    busy = sum(c["busy_s"] for c in d["cpus"].values())
    known = d["redis_s"] + d["extra_s"] + d["children_s"]
    out = {"busy_s": busy, "redis_s": d["redis_s"], "extra_s": d["extra_s"],
           "children_s": d["children_s"],
           # tasks counted apart (redis, watcher, load generator) are in
           # the all-task sum too
           "other_tasks_s": d["tasks_s"] - known,
           "idle_irq_s": busy - d["tasks_s"],
           "softirq_s": sum(c["softirq_s"] for c in d["cpus"].values())}
    return {k: round(v, 3) for k, v in out.items()}
