#!/usr/bin/python3
"""paper_check.py - the paper's generator and ladder tool, TAP (part of `make test`).

1. experiments/paper/gen.py --check on the committed results/: every macro,
   table, figure and ladder the paper uses is generated (no LaTeX needed).
2. The checks can fail: a paper that uses an undefined number, a CSV without
   a column the paper uses, a missing required CSV, a figure older than its
   CSV are each caught, in a scratch copy of the tree.
3. Optional (coming) results: absent -> switch false, present -> table.
4. The ladder tool on known captures: the arrows, labels and marks it computes
   (not pixels), on a deterministic pcap of the suite and on a kept failure
   capture with its middlebox log.
Writes only under build/.

--freshness (`make paper-freshness`; not yet part of `make test`): every CSV
the paper reads (gen.SOURCES, and the CSVs of the figures it includes) is
held against the last commit that changed xdp/, ctl/ or its writers
(gen.WRITERS): a row measured at an older commit fails unless gen.HISTORICAL
declares the CSV and the paper says so beside each use (freshness.py). Exit
1 when anything is stale, 2 when the check cannot be made (no git history,
a shallow clone). Its logic is tested in tests/freshness_check.py.
"""
import csv
import os
import re
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "experiments/paper"))
sys.path.insert(0, os.path.join(TOP, "pylib"))
import freshness as fr  # noqa: E402
import gen  # noqa: E402
import ladder  # noqa: E402
from prestack_lib import csvio  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402


def scratch_tree():
    """A copy of what the generator reads: results/ CSVs, the two sources of
    #defines and paper/*.tex, in a temporary directory under build/."""
    base = os.path.join(TOP, "build/paper-check")
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(dir=base)
    for sub in ("results", "xdp", "ctl", "paper"):
        os.makedirs(os.path.join(d, sub))
    for f in os.listdir(os.path.join(TOP, "results")):
        if f.endswith(".csv"):
            shutil.copy(os.path.join(TOP, "results", f), os.path.join(d, "results"))
    shutil.copytree(os.path.join(TOP, "results/ladders"), os.path.join(d, "results/ladders"))
    # the files the paper's code constants are read from
    for f in sorted({path for path, _ in gen.CODE_CONSTANTS.values()}):
        shutil.copy(os.path.join(TOP, f), os.path.join(d, os.path.dirname(f)))
    for f in os.listdir(os.path.join(TOP, "paper")):
        if f.endswith((".tex", ".json", ".bib")):
            shutil.copy(os.path.join(TOP, "paper", f), os.path.join(d, "paper"))
    return d


def with_tree(d):
    gen.TOP, gen.PAPER = d, os.path.join(d, "paper")


def restore():
    gen.TOP, gen.PAPER = TOP, os.path.join(TOP, "paper")


def drop_column(path, col):
    rows = list(csv.DictReader(open(path)))
    fields = [c for c in rows[0] if c != col]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def gen_error(d):
    try:
        gen.generate(os.path.join(d, "out"), ladders=False)
        return None
    except gen.GenError as e:
        return str(e)


def main():
    out = os.path.join(TOP, "build/paper/gen-check")
    # 1. the committed results against the paper
    for good, what in gen.checks(out):
        ok(good, "paper: " + what)

    # 2. the checks fail when they should
    d = scratch_tree()
    try:
        with_tree(d)
        e = gen_error(d)
        ok(e is None, f"scratch copy generates cleanly ({e or 'no error'})")
        with open(os.path.join(d, "paper/sec-intro.tex"), "a") as f:
            f.write("\nA number nobody measured: \\NoSuchMeasuredNs.\n")
        res = gen.checks(os.path.join(d, "out"))
        bad = [w for g, w in res if not g and "NoSuchMeasuredNs" in w]
        ok(bad, "an undefined number in the text is caught")
        drop_column(os.path.join(d, "results/bench-pktcost.csv"), "ns_median")
        e = gen_error(d)
        ok(e and "bench-pktcost.csv" in e and "ns_median" in e,
           f"a CSV without a column the paper uses stops the generator ({e})")
        shutil.copy(os.path.join(TOP, "results/bench-pktcost.csv"), os.path.join(d, "results"))
        os.unlink(os.path.join(d, "results/coherence-window-summary.csv"))
        e = gen_error(d)
        ok(e and "coherence-window-summary.csv" in e and "missing" in e,
           f"a missing required CSV stops the generator ({e})")
        shutil.copy(os.path.join(TOP, "results/coherence-window-summary.csv"), os.path.join(d, "results"))
        # a duplicated row makes a quoted number ambiguous
        with open(os.path.join(d, "results/bench-realistic.csv")) as f:
            lines = f.read().splitlines()
        guarded = [x for x in lines if ",guarded," in x]
        with open(os.path.join(d, "results/bench-realistic.csv"), "a") as f:
            f.write(guarded[0] + "\n")
        e = gen_error(d)
        ok(e and "2 rows" in e and "mode=guarded" in e, f"two rows where one is quoted stop it ({e})")
        shutil.copy(os.path.join(TOP, "results/bench-realistic.csv"), os.path.join(d, "results"))
        # 3. the optional results: absent, then present
        for opt in ("results/where-to-answer.csv", "results/bench-e2e-latency.csv"):
            if os.path.exists(os.path.join(d, opt)):
                os.unlink(os.path.join(d, opt))
        o = gen.generate(os.path.join(d, "out"), ladders=False)
        ok(o.switches == {"HaveEeLatency": False, "HaveWhere": False},
           f"without issue 13/15 CSVs the switches are off ({o.switches})")
        with open(os.path.join(d, "results/where-to-answer.csv"), "w") as f:
            f.write("date,commit,kernel,path,value_size,ns_per_request,rps_50c,speedup_50c,"
                    "server_cpu_us_per_req,answered_share,hit_share_50c,small_value_size,"
                    "rps_50c_small,speedup_50c_small,server_cpu_us_per_req_small,hit_share_50c_small,"
                    "cells,cells_correct,cells_wrong,cells_stale,cells_stall,extra_col\n"
                    "2026-01-01T00:00:00Z,abc1234,k,xdp,1024,600,1000,1.0,3.0,0.5,0,16,2000,2.0,2.0,1,"
                    "3,2,0,0,1,x\n"
                    "2026-01-01T00:00:00Z,abc1234,k,poststack,1024,2000,900,0.9,9.0,0.9,0,16,800,0.8,"
                    "9.0,1,3,3,0,0,0,y\n")
        with open(os.path.join(d, "results/bench-e2e-latency.csv"), "w") as f:
            f.write("config,workload,value_size,clients,pipeline,p50_us,p99_us\n"
                    "redis,get,16,50,1,100,200\n")
        e = gen_error(d)
        ok(e and "bench-e2e-latency.csv" in e and "p999_us" in e,
           f"a present optional CSV is held to its columns ({e})")
        os.unlink(os.path.join(d, "results/bench-e2e-latency.csv"))
        o = gen.generate(os.path.join(d, "out"), ladders=False)
        tab = open(os.path.join(d, "out/tab-where.tex")).read()
        ok(o.switches["HaveWhere"] and "poststack" in tab and "2{,}000" in tab
           and "abc1234" in tab and "extra" not in tab,
           "where-to-answer.csv present: switch on, a row per path, its commit, extra columns ignored")
    finally:
        restore()
        shutil.rmtree(d, ignore_errors=True)

    # 4. the ladder tool
    ok(ladder.summarize(b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n") == "GET foo", "RESP summary: a command")
    ok(ladder.summarize(b"$3\r\nbar\r\n+OK\r\n:12\r\n$-1\r\n") == '"bar"; +OK; :12; (nil)',
       "RESP summary: replies of four types")
    ok(ladder.summarize(b"*2\r\n$3\r\nGET\r\n$3\r\nf") == "GET f...", "RESP summary: a command cut by the segment")
    lad = ladder.load(os.path.join(TOP, "pcaps/retrans_answered_get.pcap"), 1, 8)
    a = lad["arrows"]
    ok(len(a) == 8 and [x["dir"] for x in a] == ["c2s", "s2c", "c2s", "c2s", "c2s", "c2s", "c2s", "s2c"],
       "pcaps/retrans_answered_get.pcap: 8 arrows, directions as captured")
    ok(a[0]["label"] == "seq=0 ack=0 len=0 [S]" and a[1]["label"] == "seq=0 ack=1 len=0 [SA]",
       f"handshake relative to each side's SYN ({a[0]['label']!r}, {a[1]['label']!r})")
    ok(a[3]["label"] == a[4]["label"] == "seq=1 ack=1 len=22 [PA]  GET foo" and a[4]["t_ms"] == 203.0,
       f"the retransmitted GET has the same label, 200 ms later ({a[4]['label']!r})")
    ok(a[6]["summary"] == "SET x 1" and a[6]["seq"] == 45 and a[6]["ack"] == 20, "a SET: seq, ack, summary")
    f = os.path.join(TOP, "results/ladders/failures/lost_xdp_reply_after_set-guarded")
    lad = ladder.load(f + ".pcap", 8, 18, f + ".mbx.csv", s2c_drops_injected=True)
    a = lad["arrows"]
    frames = [x["frame"] for x in a]
    ph = [k for k, x in enumerate(a) if x["phantom"]]
    ok(len(ph) == 1 and frames[ph[0] - 1] == 12 and a[ph[0]]["dropped"] and a[ph[0]]["injected"],
       f"the lost injected reply is drawn from the middlebox log right after its GET (after frame {frames[ph[0] - 1] if ph else None})")
    ok([x["frame"] for x in a if x["dropped"] and not x["phantom"]] == [13],
       "the dropped retransmission of the GET is the capture's frame 13")
    inj = [x["frame"] for x in a if x["injected"] and not x["phantom"]]
    ok(inj == [9, 17], f"injected replies recognised by IP id 0: frames {inj}")
    k14 = frames.index(14)
    ok(a[k14]["label"] == "seq=20 ack=91 len=5 [PA]  +OK" and a[k14]["ack"] == a[frames.index(12)]["seq"],
       "the kernel's retransmitted +OK acks only up to the answered GET (the ACK hold)")
    done()


def paper_csvs(texs):
    """The CSVs the paper reads -> the rows it reads: gen.SOURCES that exist
    (after gen.FILTERS), and every row of the CSVs its results/ figures are
    drawn from."""
    csvs = {}
    for name, (path, _, _) in gen.SOURCES.items():
        if os.path.exists(os.path.join(TOP, path)):
            csvs[path] = gen.read_source(name)
    text = "\n".join(fr.strip_comments(t) for t in texs.values())
    for g in re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([^}]+)\}", text):
        if g in gen.FIGURES:
            csvs[gen.FIGURES[g]] = csvio.load(os.path.join(TOP, gen.FIGURES[g]))
    return csvs


def freshness():
    try:
        repo = fr.Repo(TOP)
    except fr.FreshnessError as e:
        ok(False, f"freshness cannot be checked: {e}")
        done(status=2)
    sys.path.insert(0, os.path.join(TOP, "tests"))
    import csv_check
    out = os.path.join(TOP, "build/paper/freshness")
    try:
        o = gen.generate(out, ladders=False)
    except gen.GenError as e:
        ok(False, f"generator: {e}")
        done()
    texs = {os.path.basename(p): open(p).read() for p in gen.paper_tex()}
    macros_tex = open(os.path.join(out, "macros.tex")).read()
    csvs = paper_csvs(texs)
    nowriter = sorted(p for p in csvs if p not in gen.WRITERS)
    ok(not nowriter, f"every CSV the paper reads has its writers in gen.WRITERS ({len(csvs)})"
       + (f": none for {', '.join(nowriter)}" if nowriter else ""))
    gone = sorted({w for p in csvs for w in gen.WRITERS.get(p, []) if not os.path.exists(os.path.join(TOP, w))})
    ok(not gone, "every writer in gen.WRITERS exists" + (f": not {', '.join(gone)}" if gone else ""))
    notcsvio = sorted({gen.WRITERS[p][0] for p in csvs if p in gen.WRITERS}
                      - set(csv_check.WRITERS))
    ok(not notcsvio, "each CSV's first writer is a csvio writer (tests/csv_check.py WRITERS)"
       + (f": not {', '.join(notcsvio)}" if notcsvio else ""))
    extra = sorted(set(gen.HISTORICAL) - set(csvs))
    ok(not extra, "gen.HISTORICAL names only CSVs the paper reads"
       + (f": not {', '.join(extra)}" if extra else ""))
    macro_srcs = {m: gen.SOURCES[src][0] for m, (_, src) in o.macros.items() if src in gen.SOURCES}
    stale_list, dirty = [], []
    for path in sorted(csvs):
        vs = fr.check_csv(repo, path, csvs[path], gen.WRITERS.get(path, []))
        dirty += [f"{path} ({v['commit']}, {v['rows']} rows)" for v in vs if v["dirty"] and v["state"] == "fresh"]
        stale = [v for v in vs if v["state"] != "fresh"]
        fresh = [v for v in vs if v["state"] == "fresh"]
        at = ", ".join(v["commit"] for v in vs)
        if not stale:
            ok(True, f"{path}: fresh ({sum(v['rows'] for v in vs)} rows at {at})")
            if path in gen.HISTORICAL:
                print(f"# {path} is fresh: drop it from gen.HISTORICAL")
            continue
        if path in gen.HISTORICAL:
            # provenance.tex (the appendix's index of every CSV) marks it
            # "(historical)" beside its commit; the uses are the other tables
            tabs = {k: t for k, t in o.tables.items() if k != "provenance.tex"}
            uses = fr.historical_uses(path, [v["base"] for v in stale], texs, macro_srcs, gen.FIGURES,
                                      tabs, macros_tex)
            bad = [u for u in uses if not u[1]]
            ok(uses and not bad, f"{path}: stale, kept as historical (gen.HISTORICAL: "
               f"{gen.HISTORICAL[path]}), said beside {len(uses) - len(bad)} of {len(uses)} uses")
            for where, _, why in bad:
                print(f"#   {where}: {why}")
            if not bad and uses:
                continue
        else:
            ok(False, f"{path}: {sum(v['rows'] for v in stale)} of {sum(v['rows'] for v in vs)} rows stale"
               + (f" ({sum(v['rows'] for v in fresh)} fresh)" if fresh else ""))
        for v in stale:
            line = fr.report_line(v, repo.short)
            print("#   " + line)
            stale_list.append(line)
    if stale_list:
        print(f"# {len(stale_list)} stale commit(s) in {len({x.split(':')[0] for x in stale_list})} "
              f"of {len(csvs)} CSVs the paper reads: re-run their writers on the current code, or "
              "declare them in gen.HISTORICAL and say so in the paper (\\Historical{name})")
    if dirty:
        print("# fresh, but measured on a tree with uncommitted changes (the table footers say "
              f"+dirty; a re-run from a clean tree removes it): {'; '.join(dirty)}")
    done()


if __name__ == "__main__":
    if sys.argv[1:] == ["--freshness"]:
        freshness()
    if sys.argv[1:]:
        print("usage: tests/paper_check.py [--freshness]", file=sys.stderr)
        sys.exit(2)
    main()
