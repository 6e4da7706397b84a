#!/usr/bin/python3
"""run.py - failure scenarios with real TCP stacks, through the middlebox.

  sudo /usr/bin/python3 experiments/failures/run.py [--modes off,naive,guarded]
        [--only SCENARIO,...] [--out results/failures-live.csv] [--quick]
        [--keep-captures] [--resume] [--kill-mbx SCENARIO/MODE]

Brings the testbed up with the middlebox (testbed.sh up --mbx), and for
every scenario and mode: attaches prestack, sets the middlebox's fault
rule, runs the client (client.py: a RESP client with a model of the store)
in the client namespace, and records its verdicts, stalls, resets, both
ends' TCP counters (nstat), the middlebox's actions and prestack's
counters. One CSV row per cell, a figure (fault x mode) from the CSV, the
client-side capture of every cell that is not plain correct and every
middlebox log under failures/ beside the CSV (results/failures/; every
capture with --keep-captures). Everything it started is stopped,
also on Ctrl-C.

A cell is lost when it could not be measured: the middlebox was not
running at the end of it, the client printed no result, a tool failed.
A run that loses a cell (or is interrupted) exits 1 and leaves --out as
it was; every cell measured so far is kept in a sidecar,
build/failures-resume/<out name>.jsonl, and --resume runs only the cells
missing from it (same commit, --quick and --seed). --kill-mbx kills the
middlebox in the middle of one cell: the check that a lost cell is noticed.
"""
import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio, psstats  # noqa: E402
from prestack_lib.faultrun import (MAX_LOST_IN_A_ROW, MBX_PID, MODES, CellLost,  # noqa: E402
                                   Sidecar, mbx_alive, nstat, sh)
from prestack_lib.provenance import provenance  # noqa: E402
from prestack_lib.testbed import DEV_CLI, IP_SRV, NS_CLI, NS_SRV, PORT, TGT  # noqa: E402

PS = os.path.join(TOP, "build/prestack")
TB = os.path.join(TOP, "experiments/testbed.sh")
CLIENT = os.path.join(TOP, "experiments/failures/client.py")
PY = "/usr/bin/python3"
GETP = r"prefix=*2\r\n$3\r\nGET"

# How long the client waits for a reply before it calls the connection
# stalled. One fault is repaired within ~200 ms (Linux's minimum RTO), so 3 s
# is plenty; under random loss one segment can be lost several times in a
# row, and the kernel's backed-off RTO repairs five consecutive losses only
# after 0.2+0.4+0.8+1.6+3.2 = 6.2 s: a stall there must outlast that, or a
# slow but working TCP recovery is counted as one (seen: a kernel reply lost
# four times, repaired after 3.6 s).
PATIENCE_S = {"loss_1pct": 10, "loss_5pct": 10, "big_loss_1pct": 10}
PATIENCE_DEFAULT_S = 3

# name, workload, mbx rules, what it shows
SCENARIOS = [
    ("clean", "seq", [], "no fault: the baseline"),
    ("lost_xdp_reply", "seq", ["dir=s2c,prefix=$,ipid0=1,nth=2,action=drop"],
     "the 2nd reply injected at XDP is lost"),
    ("lost_xdp_reply_pipelined", "gets", ["dir=s2c,prefix=$,ipid0=1,nth=2,action=drop"],
     "4 GETs in flight, the 2nd injected reply lost: later replies arrive, the client only SACKs"),
    ("lost_xdp_reply_after_set", "setget", ["dir=s2c,prefix=$,ipid0=1,nth=2,action=drop",
                                            f"dir=c2s,{GETP},nth=3,action=drop"],
     "SET, then a GET answered at XDP: its reply lost, then the client's retransmission of "
     "the GET (the 3rd GET on the wire); the kernel retransmits its +OK"),
    ("lost_client_get", "seq", [f"dir=c2s,{GETP},nth=5,action=drop"],
     "the 5th client GET is lost (client retransmits)"),
    ("dup_get", "seq", [f"dir=c2s,{GETP},nth=5,action=dup"],
     "the 5th client GET arrives twice"),
    ("reordered", "pipe", ["dir=c2s,payload=1,nth=7,count=2,action=reorder"],
     "client segments 7 and 8 (GETs of a pipelined round) swapped with their successors"),
    ("split_get", "seq", [f"dir=c2s,{GETP},nth=4,count=3,action=split,k=3"],
     "GETs 4-6 split into 3 segments each (mid-command)"),
    ("coalesced", "pipe", ["dir=c2s,payload=1,every=1,action=coalesce,ms=2"],
     "back-to-back client segments merged into one"),
    ("pipelined_miss_hit", "pipe", [], "SET + 4 GETs in 5 segments back to back, misses and hits mixed"),
    ("lost_server_reply", "pipe", ["dir=s2c,prefix=+OK,ipid0=0,nth=3,action=drop"],
     "the kernel's reply to a pipelined SET is lost while GETs behind it are in flight"),
    ("small_window", "clamp", [], "client SO_RCVBUF 1 KB, 200-byte values"),
    ("big_clean", "big", [], "4 KB values (3-segment replies at TC ingress), no fault"),
    # segments after a reply's first start inside the value ("v<n>-xxx..."):
    # prefix=xxxxxxxx with IP id 0 (prestack's) picks them
    ("lost_tc_middle_segment", "big", ["dir=s2c,prefix=xxxxxxxx,ipid0=1,nth=1,action=drop"],
     "4 KB values: the middle segment of the first 3-segment TC reply is lost: the client "
     "acks the 1st (a partial ACK) and SACKs the 3rd"),
    ("lost_tc_last_segment", "big", ["dir=s2c,prefix=xxxxxxxx,ipid0=1,nth=2,action=drop"],
     "4 KB values: the last segment of the first TC reply is lost (the request is not acked)"),
    ("big_loss_1pct", "bigload", ["dir=any,p=0.01,action=drop"],
     "4 KB values (TC ingress replies), 1% random loss, 4 connections"),
    ("loss_1pct", "load", ["dir=any,p=0.01,action=drop"], "1% random loss, 4 connections"),
    ("loss_5pct", "load", ["dir=any,p=0.05,action=drop"], "5% random loss, 4 connections"),
]

# the matrix's columns: every mode of faultrun.MODES but per-command
# answering (-cut), which the campaign runs as an opt-in row
FAILURE_MODES = [m for m in MODES if not m.endswith("-cut")]

NSTAT = ["TcpRetransSegs", "TcpOutRsts", "TcpExtTCPTimeouts", "TcpExtTCPLossProbes"]
PS_COUNTERS = ["get_hits", "tc_replies", "tc_resends", "tc_lost", "post_hits", "post_pass_owed", "retrans_replies", "ack_held", "rtx_stored", "rtx_req", "rtx_dupack", "rtx_gone",
               "dropped", "fallbacks", "divergences",
               "flows_untrusted", "translated"]


# a kept capture stays small: a long lossy run keeps its first packets
# (the middlebox log, beside it, has every drop)
CAPTURE_KEEP_PKTS = 5000


def keep_head(pcap):
    """Cut a capture to its first CAPTURE_KEEP_PKTS packets (at most ~1.4 MB
    at the 256-byte snap length)."""
    tmp = pcap + ".head"
    r = subprocess.run(["tcpdump", "-Z", "root", "-r", pcap, "-c", str(CAPTURE_KEEP_PKTS), "-w", tmp],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode == 0 and os.path.exists(tmp):
        os.replace(tmp, pcap)
    elif os.path.exists(tmp):
        os.unlink(tmp)


def ps_stats():
    return psstats.read(TGT, PS)


def outcome(r):
    if r["wrong"]:
        return "wrong"
    if r["stale"]:
        return "stale"
    if r["timeouts"]:
        return "stall"
    if r["resets"] or r["error"]:
        return "reset" if r["resets"] else "error"
    if r["stalls_100ms"]:
        return "recovered"
    return "correct"


def run_cell(sc, mode, outdir, a):
    """One cell's row; CellLost (or a tool's error) if it was not measured.
    A tcpdump left running by an error is stopped here."""
    procs = []
    try:
        return _run_cell(sc, mode, outdir, a, procs)
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        raise


def _run_cell(sc, mode, outdir, a, procs):
    name, workload, rules, _ = sc
    base = os.path.join(outdir, f"{name}-{mode}")
    sh(PS, "detach", *TGT, "--force", check=False)
    sh(TB, "mbx")
    # the key space over loopback (no fault touches it), then the cache
    sh("ip", "netns", "exec", NS_SRV, "redis-cli", "flushall")
    kv = []
    for i in range(8):
        kv += [f"fk{i}", f"init-fk{i}"]
    sh("ip", "netns", "exec", NS_SRV, "redis-cli", "mset", *kv)
    # --no-coherence: the matrix isolates what each mode does with TCP
    # faults; the coherence watcher (a separate layer, measured by
    # bench/coherence_window.py) would mask a missed write
    sh(PS, "attach", *TGT, *MODES[mode], "--no-coherence")
    sh(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)
    pcap = base + ".pcap"
    # --immediate-mode: without it libpcap hands packets over in blocks and
    # the last block of a short run can be lost when tcpdump is stopped
    dump = subprocess.Popen(["ip", "netns", "exec", NS_CLI, "tcpdump", "-U", "--immediate-mode",
                             "-s", "256", "-i", DEV_CLI, "-w", pcap, f"tcp port {PORT}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(dump)
    ready = dump.stderr.readline()                # "listening on <dev>, ..."
    if "listening" not in ready:
        dump.kill()
        raise RuntimeError(f"tcpdump did not start: {ready.strip()}")
    margs = []
    for r in rules:
        margs += ["--rule", r]
    sh(TB, "mbx", *margs, "--log", base + ".mbx.csv", "--seed", str(a.seed))
    if a.kill_mbx == f"{name}/{mode}":            # the lost-cell check
        os.kill(int(open(MBX_PID).read().strip()), signal.SIGKILL)
    n0c, n0s, p0 = nstat(NS_CLI), nstat(NS_SRV), ps_stats()
    patience = PATIENCE_S.get(name, PATIENCE_DEFAULT_S)
    ops = 30 if a.quick else 60
    secs = 3 if a.quick else 8
    try:
        out = sh("ip", "netns", "exec", NS_CLI, PY, CLIENT, "--host", IP_SRV, "--port", str(PORT),
                 "--workload", workload, "--ops", str(ops), "--secs", str(secs),
                 "--seed", str(a.seed), "--timeout", str(patience), "--preloaded",
                 timeout=secs + 60)
        res = json.loads(out.strip().splitlines()[-1])
    except (RuntimeError, ValueError, IndexError, subprocess.TimeoutExpired) as e:
        res = None
        why = f"the client printed no result: {str(e)[-200:]}"
    n1c, n1s, p1 = nstat(NS_CLI), nstat(NS_SRV), ps_stats()
    # the middlebox must have been there for the whole cell: a dead one
    # drops everything, and the client would report a stall that no mode
    # caused
    alive = mbx_alive()
    time.sleep(0.3)
    dump.send_signal(signal.SIGINT)
    tail = dump.communicate(timeout=10)[1]
    m = re.search(r"(\d+) packets? dropped by kernel", tail)
    if m and int(m.group(1)):
        print(f"run.py: {name}/{mode}: tcpdump lost {m.group(1)} packets", file=sys.stderr)
    if not alive:
        raise CellLost("the middlebox was not running at the end of the cell"
                       f" ({os.path.relpath(base, TOP)}.mbx.csv, /run/prestack-testbed/mbx.out)")
    if res is None:
        raise CellLost(why)
    if not p1:
        raise CellLost(f"prestack stats --json gave nothing ({psstats.last_error})")
    sh(TB, "mbx")                                 # plain forwarding again
    with open(base + ".mbx.csv") as f:
        actions = max(0, sum(1 for _ in f) - 1)
    row = {"scenario": name, "mode": mode, "workload": workload,
           "rule": " ; ".join(rules), "patience_s": patience, "outcome": outcome(res)}
    for k in ["replies", "correct", "wrong", "stale", "error", "timeouts", "resets",
              "stalls_100ms", "max_ms", "p50_ms"]:
        row[k] = res.get(k, 0)
    for ns, n0, n1, tag in [(NS_CLI, n0c, n1c, "cli"), (NS_SRV, n0s, n1s, "srv")]:
        for k in NSTAT:
            row[f"{tag}_{k}"] = n1.get(k, 0) - n0.get(k, 0)
    row["mbx_actions"] = actions
    row.update(psstats.delta(p0, p1, PS_COUNTERS))
    # GETs answered from the cache, whichever path did it (get_hits at
    # XDP/TC, post_hits after the stack), and which path that was
    row["answered"], row["answered_by"] = psstats.answered(row, mode)
    if row["outcome"] == "correct" and not a.keep_captures:
        os.unlink(pcap)
        row["capture"] = ""
    else:
        keep_head(pcap)
        row["capture"] = os.path.relpath(pcap, TOP)
    row["bad"] = " | ".join(res.get("bad", []))[:300]
    sh(PS, "detach", *TGT, "--force", check=False)
    return row


COLORS = {"correct": "#4caf50", "recovered": "#c5e1a5", "stall": "#ff9800",
          "reset": "#9e9e9e", "error": "#9e9e9e", "stale": "#9c27b0", "wrong": "#f44336"}


def plot(csv_path, out_base):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = list(csv.DictReader(open(csv_path)))
    scen = list(dict.fromkeys(r["scenario"] for r in rows))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(modes), 0.45 * len(scen) + 1.4))
    for r in rows:
        y, x = scen.index(r["scenario"]), modes.index(r["mode"])
        ax.add_patch(plt.Rectangle((x, y), 1, 1, color=COLORS.get(r["outcome"], "white"),
                                   ec="white"))
        label = r["outcome"]
        if r["outcome"] == "recovered":
            label += f"\n{float(r['max_ms']):.0f} ms"
        elif r["outcome"] == "stall":
            label += f"\n{r['timeouts']} conn. > {r.get('patience_s', 3)} s"
        elif r["outcome"] in ("wrong", "stale"):
            label += f" ({r[r['outcome']]})"
        ax.text(x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(modes))
    ax.set_ylim(len(scen), 0)
    ax.set_xticks([i + 0.5 for i in range(len(modes))], modes)
    ax.set_yticks([i + 0.5 for i in range(len(scen))], scen, fontsize=8)
    ax.tick_params(length=0)
    ax.set_title("live failures: outcome per fault and mode\n(recovered: longest reply wait;"
                 " stall: connections left without a reply for the client's patience)",
                 fontsize=9)
    src = rows[0] if rows else {}
    fig.text(0.01, 0.005, f"{os.path.basename(csv_path)}: machine {src.get('machine', '?')},"
             f" kernel {src.get('kernel', '?')}, commit {src.get('commit', '?')}", fontsize=6)
    ax.legend(handles=[Patch(color=c, label=k) for k, c in COLORS.items() if k != "error"],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(f"{out_base}.{ext}", dpi=130)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default=",".join(FAILURE_MODES))
    ap.add_argument("--only", default="", help="comma-separated scenario names")
    ap.add_argument("--out", default=os.path.join(TOP, "results/failures-live.csv"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="fewer operations, shorter load")
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--keep-captures", action="store_true",
                    help="keep every cell's capture, also the correct ones (the paper's ladders)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the cells an interrupted or failed run measured, run the rest")
    ap.add_argument("--kill-mbx", default="", metavar="SCENARIO/MODE",
                    help="kill the middlebox during this cell (checks that a lost cell fails the run)")
    a = ap.parse_args()
    if a.plot_only:
        plot(a.out, os.path.splitext(a.out)[0])
        return 0
    if os.geteuid() != 0:
        print("run.py: needs root (namespaces, BPF)", file=sys.stderr)
        return 2
    names = [s[0] for s in SCENARIOS]
    only = [x for x in a.only.split(",") if x]
    for x in only:
        if x not in names:
            print(f"run.py: unknown scenario {x!r} (have: {', '.join(names)})", file=sys.stderr)
            return 2
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            print(f"run.py: unknown mode {m!r} (have: {', '.join(MODES)})", file=sys.stderr)
            return 2
    cells = [(sc, m) for sc in SCENARIOS if not only or sc[0] in only for m in modes]
    outdir = os.path.join(os.path.dirname(os.path.abspath(a.out)), "failures")
    os.makedirs(outdir, exist_ok=True)
    meta = provenance()
    side = Sidecar(a.out, {"commit": meta["commit"], "quick": a.quick, "seed": a.seed})
    if not a.resume and os.path.exists(side.path):
        print(f"run.py: starting over: {os.path.relpath(side.path, TOP)} of an unfinished run is "
              "discarded (--resume keeps its cells)", file=sys.stderr)
    done = side.load() if a.resume else {}
    side.start([done[k] for k in done])
    if done:
        print(f"run.py: resuming: {len(done)} cell(s) from {os.path.relpath(side.path, TOP)}")
    run = csvio.Run(a.out, who="run.py")
    interrupted = False

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        sh(PS, "detach", *TGT, "--force", check=False)
        sh(TB, "down")
        sh(TB, "up", "--mbx")
        in_a_row = 0
        for sc, mode in cells:
            if (sc[0], mode) in done:
                continue
            t0 = time.monotonic()
            try:
                row = {**meta, **run_cell(sc, mode, outdir, a)}
            except (CellLost, RuntimeError, OSError, subprocess.SubprocessError) as e:
                run.lose(f"{sc[0]}/{mode}", e)
                in_a_row += 1
                if in_a_row >= MAX_LOST_IN_A_ROW:
                    print(f"run.py: {in_a_row} cells lost in a row: the testbed is broken,"
                          " stopping", file=sys.stderr)
                    break
                # the next cell starts from a fresh middlebox (its first step)
                continue
            in_a_row = 0
            done[(sc[0], mode)] = row
            side.add(row)
            print(f"{sc[0]:20s} {mode:8s} {row['outcome']:9s} replies={row['replies']} "
                  f"wrong={row['wrong']} stale={row['stale']} max={row['max_ms']}ms "
                  f"mbx={row['mbx_actions']} answered={row['answered']} ({row['answered_by']}) "
                  f"({time.monotonic() - t0:.1f}s)", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("run.py: interrupted, cleaning up", file=sys.stderr)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"run.py: testbed: {e}; cleaning up", file=sys.stderr)
    finally:
        sh(PS, "detach", *TGT, "--force", check=False)
        sh(TB, "down", check=False)
    # the CSV in the matrix's order, whatever order the cells were run in
    lost = {c for c, _ in run.lost}
    for sc, mode in cells:
        if (sc[0], mode) in done:
            run.add(done[(sc[0], mode)])
        elif f"{sc[0]}/{mode}" not in lost:
            run.lose(f"{sc[0]}/{mode}", "interrupted" if interrupted else "not run", quiet=True)
    rc = run.finish()
    if rc:
        print(f"run.py: {len(done)} of {len(cells)} cells are in {os.path.relpath(side.path, TOP)};"
              " run again with --resume to measure the rest", file=sys.stderr)
        return rc
    side.remove()
    plot(a.out, os.path.splitext(a.out)[0])
    print(f"wrote {os.path.relpath(a.out, TOP)} and its .png/.pdf ({len(cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
