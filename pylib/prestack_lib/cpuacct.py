"""cpuacct.py - CPU time of one run, split by who spent it, from counters
the kernel keeps anyway (no perf, no hardware counters):

  Sample(redis_pid, prog_ids)  - a snapshot; `b - a` gives the deltas:
    cpus[i] = {'softirq_s', 'busy_s', 'wall_s'}   /proc/stat per CPU
    redis_s                                       redis-server's utime+stime
                                                  (/proc/PID/stat, every thread)
    children_s                                    this process's waited-for
                                                  children (getrusage): the
                                                  load generator run between
    progs[id] = {'name', 'type', 'run_time_ns', 'run_cnt'}
                                                  `bpftool prog show --json`,
                                                  with kernel.bpf_stats_enabled=1

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
_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"

@contextlib.contextmanager
def bpf_stats():
    old = open(_SYSCTL).read().strip()
    with open(_SYSCTL, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(_SYSCTL, "w") as f:
            f.write(old)

def _cpus():
    out = {}
    for line in open("/proc/stat"):
        f = line.split()
        if not f or not f[0].startswith("cpu") or f[0] == "cpu":
            continue
        v = [int(x) for x in f[1:9]]   # user nice system idle iowait irq softirq steal
        out[int(f[0][3:])] = {"softirq_s": v[6] / HZ, "busy_s": (sum(v) - v[3] - v[4]) / HZ,
                              "all_s": sum(v) / HZ}
    return out

def _proc_cpu(pid):
    if not pid:
        return 0.0
    try:
        st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(st[11]) + int(st[12])) / HZ

def _progs(ids):
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
            self.progs = _progs(set(prog_ids))
        self.t = time.monotonic()
        self.cpus = _cpus()
        self.redis_s = _proc_cpu(redis_pid)
        self.extra_s = sum(_proc_cpu(p) for p in extra_pids)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children_s = ru.ru_utime + ru.ru_stime
        if end:
            self.progs = _progs(set(prog_ids))

    def __sub__(self, a):
        """self - a: what was spent between sample a and this one."""
        d = {"wall_s": self.t - a.t, "redis_s": self.redis_s - a.redis_s,
             "extra_s": self.extra_s - a.extra_s, "children_s": self.children_s - a.children_s,
             "cpus": {}, "progs": {}}
        for c, v in self.cpus.items():
            if c in a.cpus:
                d["cpus"][c] = {k: v[k] - a.cpus[c][k] for k in v}
        for i, p in self.progs.items():
            if i in a.progs:
                d["progs"][i] = {"name": p["name"], "type": p["type"],
                                 "run_time_ns": p["run_time_ns"] - a.progs[i]["run_time_ns"],
                                 "run_cnt": p["run_cnt"] - a.progs[i]["run_cnt"]}
        return d
