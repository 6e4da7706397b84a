"""psstats.py - prestack's counters as experiments read them: one
`prestack stats --json` line (names from xdp/prestack.h's PS_STATS list;
the post-stack counters are post_*), and deltas between two reads.

  s0 = read(TGT); ...; d = delta(s0, read(TGT), ["get_hits", "post_hits"])
  answered(d, mode) -> (n, "xdp" | "post")   # who answered the GETs
"""
import json
import subprocess

from . import PS


def parse(raw):
    """The counters of `prestack stats --json` output (its last non-empty
    line); {} when there is none (nothing attached)."""
    lines = [ln for ln in (raw or "").splitlines() if ln.strip()]
    if not lines:
        return {}
    try:
        d = json.loads(lines[-1])
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


# why the last read() gave {} (its stderr, exit code or timeout), for
# the message of a cell that is lost because of it
last_error = ""


def read(tgt, ps=PS, timeout=30):
    """`prestack stats TGT --json` now; {} if it fails (why: last_error)."""
    global last_error
    try:
        r = subprocess.run([ps, "stats", *tgt, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        last_error = f"no answer in {timeout} s"
        return {}
    except OSError as e:
        last_error = str(e)
        return {}
    d = parse(r.stdout) if r.returncode == 0 else {}
    if not d:
        last_error = (f"exit {r.returncode}: " + " ".join(r.stderr.split())[-300:])
    return d


def delta(before, after, names):
    return {k: after.get(k, 0) - before.get(k, 0) for k in names}


# GETs answered from the cache without Redis, per path: XDP (get_hits, its
# TC ingress replies included) or the post-stack programs (post_hits)
ANSWER_COUNTER = {"xdp": "get_hits", "post": "post_hits"}


def answered_by(mode):
    """Which path answers in this mode: "post" for poststack, "" for off
    (and Redis alone: nothing answers), else "xdp"."""
    mode = str(mode)
    if mode in ("off", "redis", "", "-"):
        return ""
    return "post" if mode.startswith("poststack") else "xdp"


def answered(counts, mode):
    """(GETs answered from the cache, the path) for a mode's counters."""
    by = answered_by(mode)
    return (counts.get(ANSWER_COUNTER[by], 0) if by else 0), by
