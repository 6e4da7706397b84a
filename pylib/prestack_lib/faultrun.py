"""faultrun.py - the pieces of a live run through the middlebox that the
failure matrix (experiments/failures/run.py) and the randomized campaign
(experiments/campaign/run.py) share:

  sh(*cmd)                  run a tool, its output as text; RuntimeError
                            when it fails (check=True)
  nstat(ns)                 a namespace's TCP counters (nstat -az --json)
  mbx_alive()               the middlebox testbed.sh started still runs
  CellLost                  a cell that could not be measured
  MODES                     column name -> `prestack attach` arguments
  Sidecar(out, key, cell)   the cells of an unfinished run, one JSON line
                            each, so that --resume can skip them
  MAX_LOST_IN_A_ROW         lost cells in a row that mean a broken testbed
"""
import json
import os
import subprocess

from . import TOP, csvio

MBX_PID = "/run/prestack-testbed/mbx.pid"
RESUME_DIR = os.path.join(TOP, "build", "failures-resume")

# consecutive lost cells after which the testbed is taken to be broken
MAX_LOST_IN_A_ROW = 3

# column -> attach arguments; guarded-nohold is guarded without the ACK hold
# (attach --no-ack-hold): the ablation that shows what the hold repairs
MODES = {"off": ["--mode", "off"], "naive": ["--mode", "naive"],
         "guarded-nohold": ["--mode", "guarded", "--no-ack-hold"],
         "guarded": ["--mode", "guarded"], "retrans": ["--mode", "retrans"],
         # the XDP path alone (no TC ingress replies): where-to-answer
         "guarded-notc": ["--mode", "guarded", "--no-tc-reply"],
         "retrans-notc": ["--mode", "retrans", "--no-tc-reply"],
         # per-command answering of pipelined segments (docs/pipelines.md)
         "guarded-cut": ["--mode", "guarded", "--cut"],
         "retrans-cut": ["--mode", "retrans", "--cut"],
         # answered after the TCP stack (docs/poststack.md): the kernel's
         # own TCP handles every fault; post_hits counts its answers
         "poststack": ["--mode", "poststack"]}


def sh(*cmd, check=True, capture=True, timeout=120):
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None, text=True,
                       timeout=timeout)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}: {r.stdout}")
    return r.stdout if capture else ""


def nstat(ns):
    out = sh("ip", "netns", "exec", ns, "nstat", "-az", "--json", check=False)
    try:
        d = json.loads(out)
        return d.get("kernel", d)
    except ValueError:
        return {}


class CellLost(Exception):
    """This cell could not be measured (not a fault outcome: a broken run)."""


def mbx_alive():
    """The middlebox testbed.sh started is still running (not a zombie)."""
    try:
        pid = int(open(MBX_PID).read().strip())
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in ("Z", "X")


class Sidecar:
    """The cells of an unfinished run, one JSON line each (the first line
    says what run they belong to), so that --resume can skip them. A cell
    is named by the row's values of `cell` (column names)."""

    def __init__(self, out, key, cell=("scenario", "mode"), who="run.py"):
        self.path = os.path.join(RESUME_DIR, os.path.basename(out) + ".jsonl")
        self.key, self.cell, self.who = key, tuple(cell), who

    def cell_of(self, row):
        return tuple(row[c] for c in self.cell)

    def load(self):
        """{cell: row} of a previous run with the same key."""
        if not os.path.exists(self.path):
            return {}
        with open(self.path) as f:
            lines = [json.loads(ln) for ln in f if ln.strip()]
        if not lines or lines[0] != {"run": self.key}:
            have = lines[0].get("run") if lines else None
            raise SystemExit(f"{self.who}: {os.path.relpath(self.path, TOP)} is from another run "
                             f"({have}, this one is {self.key}): remove it or rerun without --resume")
        return {self.cell_of(r): r for r in lines[1:]}

    def start(self, rows):
        os.makedirs(RESUME_DIR, exist_ok=True)
        text = "".join(json.dumps(x) + "\n" for x in [{"run": self.key}, *rows])
        csvio.write_atomic(self.path, text)

    def add(self, row):
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
