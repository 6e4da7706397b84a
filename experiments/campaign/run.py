#!/usr/bin/python3
"""run.py - the randomized fault campaign: seeded mixes of middlebox faults,
real Linux clients, every mode that claims safety, every reply judged.

  sudo /usr/bin/python3 experiments/campaign/run.py [--seeds 1-20]
        [--modes off,guarded,retrans] [--cut] [--secs S] [--clients LIST]
        [--soak [--soak-conns 10000] [--flow-entries 1024] [--rtx-entries 64]]
        [--out results/campaign.csv] [--resume] [--kill-mbx SEED/MODE]

For each seed, draw() picks a fault mix (per direction, each of drop,
dup, reorder, split, delay, coalesce and a window clamp with probability
one half, each with a probability and its parameters, in a random rule
order) and a client shape (threads, pool size, pipeline depth, idle gaps,
connections, value size). Every mode then runs the same seed: flush,
preload (over loopback: no fault touches it), attach, `cache warm`, the
rules on the middlebox (mbx --seed SEED), and all the clients at once
for --secs in the client namespace:

  redis-py-pooled     pyclient.py --shape pooled      (judged: wrong, stale)
  redis-py-pipelined  pyclient.py --shape pipelined   (judged: wrong, stale)
  redis-py-keepalive  pyclient.py --shape keepalive   (judged: wrong, stale)
  hiredis-pipeload    build/pipeload, hiredis's reader, P in flight: a GET's
                      value depends only on its key, every SET writes that
                      value, so a GET is judged wrong (another value, or nil
                      for a prefilled key) but never stale
  redis-benchmark     -t get on pipeload's keys, in runs of RB_RUN requests:
                      its replies cannot be checked; its requests are counted
                      as unchecked, a run that fails or does not finish in
                      time as a reset or a stall

One CSV row per (seed, mode, client): replies judged, correct, wrong,
stale, errors, stalls (no reply for --patience s), resets, connections,
the fault mix and shape (to replay it: --seeds SEED --modes MODE), the
middlebox's actions by kind, prestack's counters for the cell, and the
rate of judged replies. A summary row per mode (results/campaign-summary.csv):
seeds, replies, wrong, stale, stalls, resets, the cells with any of them,
and the judged replies per second.

--soak: the connection-churn soak instead, per (seed, mode): attach with
--flow-entries and --rtx-entries (tables small enough for the run to fill
them), redis-py-churn opening --soak-conns connections of 1..4 commands
each next to hiredis-pipeload, under the seed's faults;
results/campaign-soak.csv and -summary. Its rows carry flows_full (SYNs
not tracked: the flow table was full), rtx_stored and rtx_gone (wanted
replies evicted from ps_rtx).

A lost cell (the middlebox died, a client printed no result, a tool
failed) exits 1, leaves --out as it was, puts the rows measured in
build/partial/, and keeps every cell measured in
build/failures-resume/<out name>.jsonl: --resume runs only the missing
cells (same commit and settings). --kill-mbx SEED/MODE kills the
middlebox in that cell (the check that a lost cell fails the run).
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import PS, csvio, psstats  # noqa: E402
from prestack_lib.faultrun import (MAX_LOST_IN_A_ROW, MBX_PID, MODES, CellLost,  # noqa: E402
                                   Sidecar, mbx_alive, nstat, sh)
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.testbed import IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

TB = os.path.join(TOP, "experiments/testbed.sh")
PYCLIENT = os.path.join(TOP, "experiments/campaign/pyclient.py")
PIPELOAD = os.path.join(TOP, "build/pipeload")
PY = "/usr/bin/python3"
CLIENTS = ["redis-py-pooled", "redis-py-pipelined", "redis-py-keepalive", "hiredis-pipeload",
           "redis-benchmark"]
SOAK_CLIENTS = ["redis-py-churn", "hiredis-pipeload"]
SAFE_MODES = ["off", "guarded", "retrans"]
CUT_MODES = ["guarded-cut", "retrans-cut"]
PL_KEYS = 2000          # pipeload's (and redis-benchmark's) key space
RB_RUN = 5000           # requests per redis-benchmark run
NSTAT = ["TcpRetransSegs", "TcpOutRsts", "TcpExtTCPTimeouts"]
PS_COUNTERS = ["get_hits", "tc_replies", "retrans_replies", "rtx_stored", "rtx_req",
               "rtx_dupack", "rtx_gone", "ack_held", "tc_lost", "dropped", "flows_new",
               "flows_full", "flows_untrusted", "div_rcv_nxt", "div_snd_nxt", "fb_window",
               "fb_ooo", "fb_partial", "emit_broken"]
MBX_ACTIONS = ["drop", "dup", "delay", "reorder", "split", "coalesce", "clamp"]


def draw(seed, soak=False):
    """The seed's fault mix (mbx rules) and client shape; the same for every
    mode. A soak's mix always loses server-to-client frames, so that
    retrans mode asks its (small) buffer for replies to re-send."""
    r = random.Random(seed)
    rules = []
    for d in ("c2s", "s2c"):
        for act in MBX_ACTIONS:
            if r.random() >= 0.5:
                continue
            if act == "drop":
                p, extra = r.uniform(0.002, 0.02), ""
            elif act == "dup":
                p, extra = r.uniform(0.005, 0.05), ""
            elif act == "delay":
                p, extra = r.uniform(0.005, 0.05), f",ms={r.randint(1, 40)}"
            elif act == "reorder":
                p, extra = r.uniform(0.005, 0.05), f",ms={r.randint(5, 50)}"
            elif act == "split":
                p, extra = r.uniform(0.02, 0.2), f",k={r.randint(2, 4)}"
            elif act == "coalesce":
                p, extra = r.uniform(0.02, 0.2), ",ms=2"
            else:       # the raw window field; Linux scales by 2^7: 256 B..4 KB
                p, extra = r.uniform(0.05, 0.5), f",win={r.randint(2, 32)}"
            rules.append(f"dir={d},p={p:.4f},action={act}{extra}")
    if not rules:
        rules.append(f"dir=any,p={r.uniform(0.002, 0.02):.4f},action=drop")
    if soak and not any(x.startswith("dir=s2c") and "action=drop" in x for x in rules):
        rules.append(f"dir=s2c,p={r.uniform(0.005, 0.02):.4f},action=drop")
    r.shuffle(rules)
    shape = {
        "pooled_threads": r.randint(2, 6), "pool": r.randint(1, 4),
        "pipe_threads": r.randint(1, 3), "depth": r.choice([2, 4, 8, 16, 32]),
        "ka_threads": r.randint(1, 2), "idle_ms": r.choice(["1100:1600", "1200:2500"]),
        "pl_conns": r.randint(2, 8), "pl_depth": r.choice([1, 4, 16, 32]),
        "pl_ratio": r.choice(["10:1", "4:1"]), "pl_size": r.choice([16, 100, 400, 900]),
        "rb_conns": r.randint(2, 8), "rb_depth": r.choice([1, 4, 16]),
        "churn_threads": r.randint(2, 6),
    }
    shape["pool"] = min(shape["pool"], shape["pooled_threads"])
    return rules, shape


def shape_of(client, s, a):
    """The client's part of the shape, as one string for the CSV."""
    keys = {"redis-py-pooled": ("pooled_threads", "pool"),
            "redis-py-pipelined": ("pipe_threads", "depth"),
            "redis-py-keepalive": ("ka_threads", "idle_ms"),
            "hiredis-pipeload": ("pl_conns", "pl_depth", "pl_ratio", "pl_size"),
            "redis-benchmark": ("rb_conns", "rb_depth"),
            "redis-py-churn": ("churn_threads",)}[client]
    out = " ".join(f"{k}={s[k]}" for k in keys)
    return out + (f" conns={a.soak_conns}" if client == "redis-py-churn" else "")


def client_cmd(client, s, a, seed):
    ns = ["ip", "netns", "exec", NS_CLI]
    host = ["--host", IP_SRV, "--port", str(PORT)]
    py = ns + [PY, PYCLIENT, *host, "--seed", str(seed), "--secs", str(a.secs),
               "--patience", str(a.patience)]
    if client == "redis-py-pooled":
        return py + ["--shape", "pooled", "--threads", str(s["pooled_threads"]),
                     "--pool", str(s["pool"])]
    if client == "redis-py-pipelined":
        return py + ["--shape", "pipelined", "--threads", str(s["pipe_threads"]),
                     "--depth", str(s["depth"])]
    if client == "redis-py-keepalive":
        return py + ["--shape", "keepalive", "--threads", str(s["ka_threads"]),
                     "--idle-ms", s["idle_ms"]]
    if client == "redis-py-churn":
        return py + ["--shape", "churn", "--threads", str(s["churn_threads"]),
                     "--conns", str(a.soak_conns)]
    if client == "hiredis-pipeload":
        return ns + [PIPELOAD, *host, "-c", str(s["pl_conns"]), "-t", "1",
                     "-P", str(s["pl_depth"]), "--ratio", s["pl_ratio"], "--keys", str(PL_KEYS),
                     "-d", str(s["pl_size"]), "--seconds", str(a.secs), "--seed", str(seed),
                     "--timeout", str(a.patience)]
    raise ValueError(client)


def judge_pipeload(out):
    """pipeload's JSON as a row: every prefilled key holds one value, so a
    nil or another value is wrong; a failed connection (closed, reset or
    silent for --timeout) is counted under resets (pipeload does not say
    which)."""
    j = json.loads(out.strip().splitlines()[-1])
    wrong = j["get_wrong"] + j["get_nulls"]
    return {"replies": j["ops"], "correct": j["ops"] - wrong - j["errors"], "wrong": wrong,
            "stale": 0, "errors": j["errors"], "stalls": 0, "resets": j["conns_failed"],
            "connections": j["conns"], "stalls_100ms": "", "max_ms": round(j["max_us"] / 1000, 1),
            "bad": ""}


def judge_pyclient(out):
    j = json.loads(out.strip().splitlines()[-1])
    return {**{k: j[k] for k in ("replies", "correct", "wrong", "stale", "errors", "stalls",
                                  "resets", "connections", "stalls_100ms", "max_ms")},
            "bad": " | ".join(j["bad"])[:300]}


def rbench_loop(s, a, deadline, res):
    """redis-benchmark in runs of RB_RUN GETs until the deadline: requests
    of finished runs are counted (unchecked); a run that exits non-zero or
    says Error is a reset, one that does not finish in --patience plus its
    expected time a stall."""
    cmd = ["ip", "netns", "exec", NS_CLI, "redis-benchmark", "-h", IP_SRV, "-p", str(PORT),
           "-c", str(s["rb_conns"]), "-P", str(s["rb_depth"]), "-t", "get", "-r", str(PL_KEYS),
           "-n", str(RB_RUN), "--csv"]
    while time.monotonic() < deadline:
        res["runs"] += 1
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=a.patience + 10)
        except subprocess.TimeoutExpired:
            res["stalls"] += 1
            continue
        if r.returncode or "rror" in r.stdout:
            res["resets"] += 1
            res["bad"] = r.stdout.strip().splitlines()[-1][:200] if r.stdout.strip() else ""
            continue
        res["unchecked"] += RB_RUN


def mbx_counts(path):
    c = dict.fromkeys(MBX_ACTIONS, 0)
    with open(path) as f:
        next(f, None)
        for ln in f:
            parts = ln.split(",")
            if len(parts) > 3 and parts[3] in c:
                c[parts[3]] += 1
    return c


def run_cell(seed, mode, a, outdir):
    procs = []
    try:
        return _run_cell(seed, mode, a, outdir, procs)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        raise


def _run_cell(seed, mode, a, outdir, procs):
    rules, s = draw(seed, a.soak)
    clients = a.clients
    sh(PS, "detach", *TGT, "--force", check=False)
    sh(TB, "mbx")
    srv = ["ip", "netns", "exec", NS_SRV]
    sh(*srv, "redis-cli", "flushall")
    sh(*srv, PY, PYCLIENT, "--preload", "--host", "127.0.0.1", "--port", str(PORT))
    if "hiredis-pipeload" in clients or "redis-benchmark" in clients:
        size = s["pl_size"]
        sh(*srv, PIPELOAD, "--prefill", "--host", "127.0.0.1", "--port", str(PORT),
           "--keys", str(PL_KEYS), "-d", str(size), "-c", "4", "-P", "32")
    extra = []
    if a.soak:
        extra = ["--flow-entries", str(a.flow_entries), "--rtx-entries", str(a.rtx_entries)]
    sh(PS, "attach", *TGT, *MODES[mode], *extra)
    sh(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)
    base = os.path.join(outdir, f"seed{seed}-{mode}")
    margs = []
    for r in rules:
        margs += ["--rule", r]
    sh(TB, "mbx", *margs, "--log", base + ".mbx.csv", "--seed", str(seed), "--quiet")
    if a.kill_mbx == f"{seed}/{mode}":            # the lost-cell check
        os.kill(int(open(MBX_PID).read().strip()), signal.SIGKILL)
    n0c, n0s, p0 = nstat(NS_CLI), nstat(NS_SRV), psstats.read(TGT, PS)
    t0 = time.monotonic()
    deadline = t0 + a.secs
    running = {}
    for c in clients:
        if c == "redis-benchmark":
            continue
        p = subprocess.Popen(client_cmd(c, s, a, seed), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        procs.append(p)
        running[c] = p
    rb = {"runs": 0, "unchecked": 0, "stalls": 0, "resets": 0, "bad": ""}
    rbt = None
    if "redis-benchmark" in clients:
        rbt = threading.Thread(target=rbench_loop, args=(s, a, deadline, rb), daemon=True)
        rbt.start()
    results, lost = {}, []
    # a soak runs until its connections are made (bounded by --secs)
    limit = a.secs + 2 * a.patience + 60
    for c, p in running.items():
        try:
            out, err = p.communicate(timeout=max(1, t0 + limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            lost.append(f"{c} did not finish in {limit:.0f} s")
            continue
        try:
            results[c] = judge_pipeload(out) if c == "hiredis-pipeload" else judge_pyclient(out)
        except (ValueError, KeyError, IndexError):
            lost.append(f"{c} printed no result (exit {p.returncode}): {(err or out)[-200:]}")
    if rbt is not None:
        rbt.join(timeout=a.patience + 30)
        results["redis-benchmark"] = {
            "replies": 0, "correct": 0, "wrong": 0, "stale": 0, "errors": 0,
            "stalls": rb["stalls"], "resets": rb["resets"], "connections": rb["runs"] * s["rb_conns"],
            "stalls_100ms": "", "max_ms": "", "unchecked": rb["unchecked"], "bad": rb["bad"]}
    elapsed = time.monotonic() - t0
    n1c, n1s, p1 = nstat(NS_CLI), nstat(NS_SRV), psstats.read(TGT, PS)
    alive = mbx_alive()
    if not alive:
        raise CellLost("the middlebox was not running at the end of the cell"
                       f" ({os.path.relpath(base, TOP)}.mbx.csv, /run/prestack-testbed/mbx.out)")
    if lost:
        raise CellLost("; ".join(lost))
    if not p1:
        raise CellLost(f"prestack stats --json gave nothing ({psstats.last_error})")
    sh(TB, "mbx")                                 # plain forwarding again
    acts = mbx_counts(base + ".mbx.csv")
    # the log of a cell with a wrong or stale reply stays (build/campaign/)
    if not a.keep_logs and not any(r.get("wrong") or r.get("stale") for r in results.values()):
        os.unlink(base + ".mbx.csv")
    cell = {"faults": " ; ".join(rules), **{f"mbx_{k}": v for k, v in acts.items()}}
    for ns, n0, n1, tag in [(NS_CLI, n0c, n1c, "cli"), (NS_SRV, n0s, n1s, "srv")]:
        for k in NSTAT:
            cell[f"{tag}_{k}"] = n1.get(k, 0) - n0.get(k, 0)
    cell.update(psstats.delta(p0, p1, PS_COUNTERS))
    if a.soak:
        cell.update({"flow_entries": a.flow_entries, "rtx_entries": a.rtx_entries})
    sh(PS, "detach", *TGT, "--force", check=False)
    rows = []
    for c in clients:
        r = results[c]
        rows.append({"seed": seed, "mode": mode, "client": c, "shape": shape_of(c, s, a),
                     "secs": round(elapsed, 1), **{k: r.get(k, "") for k in (
                         "replies", "correct", "wrong", "stale", "errors", "stalls", "resets",
                         "connections", "stalls_100ms", "max_ms")},
                     "unchecked": r.get("unchecked", 0),
                     "replies_per_s": round(r["replies"] / elapsed, 1) if elapsed else 0,
                     "outcome": outcome(r), "bad": r.get("bad", ""), **cell})
    return rows


def outcome(r):
    for k in ("wrong", "stale", "stalls", "resets", "errors"):
        if r.get(k):
            return {"stalls": "stall", "resets": "reset", "errors": "error"}.get(k, k)
    return "correct"


def summarize(rows, modes):
    """One row per mode: totals and the cells (seed/client) with a fault."""
    out = []
    for m in modes:
        rs = [r for r in rows if r["mode"] == m]
        if not rs:
            continue
        tot = {k: sum(int(r[k] or 0) for r in rs) for k in (
            "replies", "wrong", "stale", "errors", "stalls", "resets", "unchecked", "connections")}
        secs = sum(float(r["secs"]) for r in rs if r["client"] == rs[0]["client"])

        def cells(k):
            return " ".join(f"{r['seed']}/{r['client']}" for r in rs if int(r[k] or 0))[:400]
        out.append({"mode": m, "seeds": len({r["seed"] for r in rs}), "rows": len(rs), **tot,
                    "answered": sum(int(r.get("get_hits") or 0) for r in rs
                                    if r["client"] == rs[0]["client"]),
                    "seconds": round(secs, 1),
                    "replies_per_s": round(tot["replies"] / secs, 1) if secs else 0,
                    "wrong_cells": cells("wrong"), "stale_cells": cells("stale"),
                    "stall_cells": cells("stalls"), "reset_cells": cells("resets")})
    return out


def seeds_of(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-20", help="e.g. 1-20 or 3,7,9")
    ap.add_argument("--modes", default=",".join(SAFE_MODES))
    ap.add_argument("--cut", action="store_true",
                    help=f"also {', '.join(CUT_MODES)} (per-command answering, experimental)")
    ap.add_argument("--clients", default="", help=f"subset of {','.join(CLIENTS)}")
    ap.add_argument("--secs", type=float, help="load per cell (10; --soak: 90, or until its "
                    "connections are made)")
    ap.add_argument("--patience", type=float, default=10.0,
                    help="seconds without a reply that make a stall (5 RTO backoffs: 6.2 s)")
    ap.add_argument("--soak", action="store_true", help="the connection-churn soak instead")
    ap.add_argument("--soak-conns", type=int, default=10000, help="soak: connections per cell")
    ap.add_argument("--flow-entries", type=int, default=1024, help="soak: ps_flows size")
    ap.add_argument("--rtx-entries", type=int, default=64, help="soak: ps_rtx (and TC) size")
    ap.add_argument("--out", help="default results/campaign.csv (--soak: campaign-soak.csv)")
    ap.add_argument("--summary", help="default: --out with -summary before .csv")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--keep-logs", action="store_true", help="keep every cell's mbx log")
    ap.add_argument("--kill-mbx", default="", metavar="SEED/MODE")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("campaign: needs root (namespaces, BPF)", file=sys.stderr)
        return 2
    modes = [m for m in a.modes.split(",") if m] + (CUT_MODES if a.cut else [])
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m!r} (have: {', '.join(MODES)})")
    default_clients = SOAK_CLIENTS if a.soak else CLIENTS
    a.clients = [c for c in a.clients.split(",") if c] or default_clients
    for c in a.clients:
        if c not in CLIENTS + SOAK_CLIENTS:
            ap.error(f"unknown client {c!r}")
    a.secs = a.secs or (90.0 if a.soak else 10.0)
    seeds = seeds_of(a.seeds)
    a.out = a.out or os.path.join(TOP, "results", "campaign-soak.csv" if a.soak
                                  else "campaign.csv")
    a.summary = a.summary or a.out[:-4] + "-summary.csv"
    outdir = os.path.join(TOP, "build", "campaign", os.path.basename(a.out)[:-4])
    os.makedirs(outdir, exist_ok=True)
    meta = provenance()
    side = Sidecar(a.out, {"commit": meta["commit"], "secs": a.secs, "soak": a.soak,
                           "clients": a.clients, "soak_conns": a.soak_conns,
                           "flow_entries": a.flow_entries, "rtx_entries": a.rtx_entries},
                   cell=("seed", "mode", "client"), who="campaign")
    if not a.resume and os.path.exists(side.path):
        print(f"campaign: starting over: {os.path.relpath(side.path, TOP)} of an unfinished run "
              "is discarded (--resume keeps its cells)", file=sys.stderr)
    done = side.load() if a.resume else {}
    side.start(list(done.values()))
    have = {(s, m) for s, m, _ in done}
    if done:
        print(f"campaign: resuming: {len(have)} cell(s) from {os.path.relpath(side.path, TOP)}")
    cells = [(s, m) for s in seeds for m in modes]
    run = csvio.Run(a.out, who="campaign")
    interrupted = False

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    t_start = time.monotonic()
    try:
        sh(PS, "detach", *TGT, "--force", check=False)
        sh(TB, "down")
        sh(TB, "up", "--mbx")
        in_a_row = 0
        for seed, mode in cells:
            if (seed, mode) in have:
                continue
            t0 = time.monotonic()
            try:
                rows = [{**meta, **r} for r in run_cell(seed, mode, a, outdir)]
            except (CellLost, RuntimeError, OSError, subprocess.SubprocessError) as e:
                run.lose(f"{seed}/{mode}", e)
                in_a_row += 1
                if in_a_row >= MAX_LOST_IN_A_ROW:
                    print(f"campaign: {in_a_row} cells lost in a row: the testbed is broken,"
                          " stopping", file=sys.stderr)
                    break
                continue
            in_a_row = 0
            for r in rows:
                done[(seed, mode, r["client"])] = r
                side.add(r)
            have.add((seed, mode))
            n = sum(r["replies"] for r in rows)
            bad = " ".join(f"{r['client']}:{r['outcome']}" for r in rows if r["outcome"] != "correct")
            print(f"seed {seed:4d} {mode:12s} replies={n:7d} wrong={sum(r['wrong'] for r in rows)} "
                  f"stale={sum(r['stale'] for r in rows)} {bad or 'all correct'} "
                  f"({time.monotonic() - t0:.1f}s, {n / a.secs:.0f} judged/s of load)", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("campaign: interrupted, cleaning up", file=sys.stderr)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"campaign: testbed: {e}; cleaning up", file=sys.stderr)
    finally:
        sh(PS, "detach", *TGT, "--force", check=False)
        sh(TB, "down", check=False)
    lost = {c for c, _ in run.lost}
    for seed, mode in cells:
        if (seed, mode) in have:
            for c in a.clients:
                run.add(done[(seed, mode, c)])
        elif f"{seed}/{mode}" not in lost:
            run.lose(f"{seed}/{mode}", "interrupted" if interrupted else "not run", quiet=True)
    summary = summarize(run.rows, modes)
    wall = time.monotonic() - t_start
    for s in summary:
        print(f"campaign: {s['mode']:12s} seeds={s['seeds']} replies={s['replies']} "
              f"wrong={s['wrong']} stale={s['stale']} stalls={s['stalls']} resets={s['resets']} "
              f"errors={s['errors']} unchecked={s['unchecked']} "
              f"judged/s of load={s['replies_per_s']}")
    total = sum(s["replies"] for s in summary)
    print(f"campaign: {total} replies judged in {wall:.0f} s of wall time "
          f"({total / wall if wall else 0:.0f} judged replies/s overall)")
    rc = run.finish()
    srun = csvio.Run(a.summary, who="campaign")
    for s in summary:
        srun.add(s)
    if rc:
        srun.lose("summary", "cells lost", quiet=True)
        srun.finish()
        print(f"campaign: {len(have)} of {len(cells)} cells are in "
              f"{os.path.relpath(side.path, TOP)}; run again with --resume to measure the rest",
              file=sys.stderr)
        return rc
    rc = srun.finish()
    side.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())
