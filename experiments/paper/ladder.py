#!/usr/bin/python3
"""ladder.py - a TCP sequence (ladder) diagram of one connection from a capture.

  /usr/bin/python3 experiments/paper/ladder.py CAPTURE.pcap FIRST-LAST
        [--mbx LOG.mbx.csv] [--port 6379] [--title T] [-o OUT.pdf] [--json OUT.json]

Client and server timelines, one arrow per TCP segment of frames FIRST..LAST
(1-based, as Wireshark numbers them), labelled with the frame number, time,
relative seq/ack, payload length, flags, SACK blocks and a summary of the
RESP payload. Sequence numbers are relative to each side's SYN in the
capture (as Wireshark shows them).

What is marked, and how it is known:
  injected  a server->client segment with payload and IP id 0: prestack
            builds its XDP replies (and retrans's re-sent ones) with IP id 0,
            while the kernel's data segments carry a running id (the same
            test as the middlebox's ipid0=1 rule).
  dropped   from the middlebox log (--mbx, experiments/mbx's .mbx.csv, rows
            with action=drop). A client->server drop is a frame of the
            client-side capture (captured before the middlebox) and is drawn
            as an arrow that ends in a cross half way. A server->client drop
            never reached the capture: it is drawn from the log's seq/ack/len
            as a phantom arrow (no frame number), placed after both the
            client segment it acknowledges and the server segment it follows.

The computed arrows are what the tests check (--json); the figure is drawn
from them only. Vertical position is event order, not time: the time of
each frame is printed at the left, so a 200 ms RTO and a 20 us reply both
stay readable.
"""
import argparse
import csv
import json
import os
import sys

SERVER_PORT = 6379
FLAG_NAMES = [("S", 0x02), ("F", 0x01), ("R", 0x04), ("P", 0x08), ("A", 0x10)]


def flags_str(f):
    return "".join(n for n, bit in FLAG_NAMES if f & bit)


def _resp_items(b):
    """Split a RESP byte string into top-level items, best effort: a list of
    (kind, text) where kind is the type byte. Stops at the first item that is
    cut (a segment may end mid-item)."""
    out, i, n = [], 0, len(b)

    def line(j):
        k = b.find(b"\r\n", j)
        return (None, n) if k < 0 else (b[j:k], k + 2)

    def bulk(j):
        hdr, j2 = line(j + 1)
        if hdr is None:
            return None, n
        try:
            ln = int(hdr)
        except ValueError:
            return None, n
        if ln < 0:
            return "(nil)", j2
        if j2 + ln > n:
            return b[j2:n].decode("latin-1") + "...", n
        return b[j2:j2 + ln].decode("latin-1"), j2 + ln + 2

    while i < n:
        t = b[i:i + 1]
        if t == b"*":
            hdr, j = line(i + 1)
            try:
                cnt = int(hdr) if hdr is not None else -1
            except ValueError:
                cnt = -1
            if cnt < 0:
                out.append(("*", "(cut)"))
                break
            words = []
            for _ in range(cnt):
                if j >= n or b[j:j + 1] != b"$":
                    words.append("...")
                    j = n
                    break
                w, j = bulk(j)
                words.append(w if w is not None else "...")
            out.append(("*", " ".join(words)))
            i = j
        elif t == b"$":
            w, i = bulk(i)
            out.append(("$", f'"{w}"' if w not in (None, "(nil)") else (w or "...")))
        elif t in (b"+", b"-", b":"):
            ln, i = line(i + 1)
            out.append((t.decode(), t.decode() + (ln or b"").decode("latin-1")))
        else:                                   # not RESP (or cut mid-item)
            out.append(("?", f"{n - i} B"))
            break
    return out


def summarize(payload, maxlen=30):
    """A short text for a RESP payload: commands as 'GET fk1', bulk replies
    as their value in quotes, '+OK', ':1', several joined by '; '."""
    if not payload:
        return ""
    s = "; ".join(t for _, t in _resp_items(bytes(payload)))
    return s if len(s) <= maxlen else s[:maxlen - 3] + "..."


def read_mbx(path):
    if not path:
        return []
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["action"] == "drop"]


def load(pcap, first, last, mbx=None, port=SERVER_PORT, s2c_drops_injected=False, notes=None):
    """The arrows of frames first..last of one connection to `port`.

    Returns a dict: client/server endpoints, isn per side, and 'arrows', each
    {frame, t_ms, dir, seq, ack, len, flags, sack, summary, injected,
    dropped, phantom}; phantom arrows (server->client drops from the
    middlebox log) have frame None. The middlebox log does not say what a
    dropped server segment was: s2c_drops_injected=True when the rule that
    dropped them matched only injected replies (ipid0=1). notes: {frame:
    text} appended to that arrow's label."""
    from scapy.all import IP, TCP, rdpcap  # slow import: only when used
    pkts = rdpcap(pcap)
    if not (1 <= first <= last <= len(pkts)):
        raise ValueError(f"{pcap}: frames {first}-{last} outside 1-{len(pkts)}")
    t0 = float(pkts[0].time)
    isn = {}                                    # 'c2s'/'s2c' -> ISN (absolute)
    frames = []                                 # every TCP frame of the file
    for no, p in enumerate(pkts, 1):
        if IP not in p or TCP not in p:
            continue
        tcp = p[TCP]
        if port not in (tcp.sport, tcp.dport):
            continue
        d = "c2s" if tcp.dport == port else "s2c"
        if tcp.flags & 0x02 and d not in isn:
            isn[d] = tcp.seq
        sack = []
        for name, val in tcp.options:
            if name == "SAck":
                sack += [(val[k], val[k + 1]) for k in range(0, len(val) - 1, 2)]
        frames.append({"frame": no, "t": float(p.time) - t0, "dir": d, "seq": tcp.seq,
                       "ack": tcp.ack, "len": len(bytes(tcp.payload)), "flags": int(tcp.flags),
                       "ipid": p[IP].id, "payload": bytes(tcp.payload), "sack": sack})
    if not frames:
        raise ValueError(f"{pcap}: no TCP segment to or from port {port}")
    for f in frames:                            # no SYN in the file: first seen
        isn.setdefault(f["dir"], f["seq"] - (1 if f["flags"] & 0x02 else 0))
    other = {"c2s": "s2c", "s2c": "c2s"}

    def rel(v, side):
        return (v - isn[side]) & 0xffffffff

    drops = read_mbx(mbx)
    # client->server drops are frames of this capture: match seq and length,
    # the occurrence nearest the middlebox's per-direction index
    dropped_frames = set()
    c2s = [f for f in frames if f["dir"] == "c2s"]
    for r in drops:
        if r["dir"] != "c2s":
            continue
        cands = [(k, f) for k, f in enumerate(c2s, 1)
                 if f["seq"] == int(r["seq"]) and f["len"] == int(r["payload_len"])]
        if cands:
            k, f = min(cands, key=lambda kf: abs(kf[0] - int(r["idx"])))
            dropped_frames.add(f["frame"])

    arrows = []
    for f in frames:
        if not (first <= f["frame"] <= last):
            continue
        fs = f["flags"]
        inj = f["dir"] == "s2c" and f["len"] > 0 and f["ipid"] == 0
        # SYN/ACK numbers: ack is meaningless before the peer's ISN is known
        ack = rel(f["ack"], other[f["dir"]]) if fs & 0x10 else 0
        sack = [(rel(a, other[f["dir"]]), rel(b, other[f["dir"]])) for a, b in f["sack"]]
        arrows.append({"frame": f["frame"], "t_ms": round(f["t"] * 1000, 3), "dir": f["dir"],
                       "seq": rel(f["seq"], f["dir"]), "ack": ack, "len": f["len"],
                       "flags": flags_str(fs), "sack": sack,
                       "summary": summarize(f["payload"]), "injected": inj,
                       "dropped": f["frame"] in dropped_frames, "phantom": False})
    # server->client drops: phantom arrows, placed after the client segment
    # they acknowledge and after the server segment they follow
    for r in drops:
        if r["dir"] != "s2c":
            continue
        seq, ack, ln = rel(int(r["seq"]), "s2c"), rel(int(r["ack"]), "c2s"), int(r["payload_len"])
        req = [k for k, a in enumerate(arrows)
               if a["dir"] == "c2s" and a["len"] and a["seq"] + a["len"] == ack]
        prev = [k for k, a in enumerate(arrows)
                if a["dir"] == "s2c" and a["len"] and a["seq"] + a["len"] == seq]
        if not req:
            continue                            # its request is not within the range
        pos = max(req[0], prev[0] if prev else -1) + 1
        if pos < len(arrows) and arrows[pos]["phantom"]:
            continue
        arrows.insert(pos, {"frame": None, "t_ms": arrows[pos - 1]["t_ms"], "dir": "s2c",
                            "seq": seq, "ack": ack, "len": ln, "flags": r["flags"], "sack": [],
                            "summary": "(lost)", "injected": bool(s2c_drops_injected),
                            "dropped": True, "phantom": True})
    notes = {int(k): v for k, v in (notes or {}).items()}
    for a in arrows:
        a["label"] = label(a)
        if a["frame"] in notes:
            a["note"] = notes[a["frame"]]
    return {"capture": pcap, "frames": [first, last], "port": port,
            "isn": {k: int(v) for k, v in isn.items()}, "arrows": arrows}


def label(a):
    s = f"seq={a['seq']} ack={a['ack']} len={a['len']} [{a['flags']}]"
    if a["sack"]:
        s += " SACK " + ",".join(f"{x}-{y}" for x, y in a["sack"])
    if a["summary"]:
        s += "  " + a["summary"]
    return s


COL_CLIENT, COL_KERNEL, COL_XDP, COL_DROP = "#222222", "#1f5fa8", "#d9730d", "#c62828"


def draw(lad, out, title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrows = lad["arrows"]
    n = len(arrows)
    row = 0.36                                   # inches per arrow
    fig, ax = plt.subplots(figsize=(5.6, 0.9 + row * n))
    xc, xs = 0.2, 0.86
    ax.set_xlim(0, 1)
    ax.set_ylim(n + 0.3, -0.7)
    ax.axis("off")
    for x, name in ((xc, "client"), (xs, "server (XDP + kernel)")):
        ax.plot([x, x], [-0.1, n + 0.1], color="#888888", lw=1)
        ax.text(x, -0.3, name, ha="center", va="bottom", fontsize=8, weight="bold")
    for k, a in enumerate(arrows):
        y0, y1 = k + 0.35, k + 0.85
        c2s = a["dir"] == "c2s"
        x0, x1 = (xc, xs) if c2s else (xs, xc)
        col = COL_CLIENT if c2s else (COL_XDP if a["injected"] else COL_KERNEL)
        style = "--" if a["phantom"] else "-"
        if a["dropped"]:                         # ends half way, with a cross
            xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
            ax.plot([x0, xm], [y0, ym], color=col, lw=1.2, ls=style)
            ax.plot([xm], [ym], marker="x", color=COL_DROP, ms=9, mew=2)
        else:
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="-|>", color=col, lw=1.2, ls=style,
                                        shrinkA=0, shrinkB=0))
        tag = f"#{a['frame']}" if a["frame"] is not None else "(not captured)"
        ax.text(0.0, k + 0.6, f"{tag}\n{a['t_ms']:.1f} ms", fontsize=6.5, va="center",
                ha="left", color="#555555")
        txt = a["label"] + (f"  ({a['note']})" if a.get("note") else "")
        ax.text(0.53, k + 0.32, txt, fontsize=7, ha="center", va="bottom", color=col,
                bbox=dict(boxstyle="square,pad=0.08", fc="white", ec="none", alpha=0.85))
    if title:
        ax.set_title(title, fontsize=9)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=COL_CLIENT, label="client segment"),
               Line2D([], [], color=COL_KERNEL, label="kernel (translated)"),
               Line2D([], [], color=COL_XDP, label="injected at XDP (IP id 0)"),
               Line2D([], [], color=COL_DROP, marker="x", ls="", label="dropped by middlebox")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4,
              fontsize=7, frameon=False, handlelength=1.5, columnspacing=1.0)
    src = f"{os.path.basename(lad['capture'])}, frames {lad['frames'][0]}-{lad['frames'][1]}"
    fig.text(0.01, 0.003, src, fontsize=6, color="#555555")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("frames", help="FIRST-LAST, 1-based frame numbers")
    ap.add_argument("--mbx", help="the middlebox log of the same run (.mbx.csv)")
    ap.add_argument("--port", type=int, default=SERVER_PORT)
    ap.add_argument("--s2c-drops-injected", action="store_true",
                    help="the log's server->client drops were XDP replies (rule ipid0=1)")
    ap.add_argument("--note", action="append", default=[], metavar="FRAME=TEXT",
                    help="a note under one frame's label")
    ap.add_argument("--title")
    ap.add_argument("-o", "--out", help="figure (.pdf or .png)")
    ap.add_argument("--json", help="write the computed arrows here")
    a = ap.parse_args()
    try:
        first, last = (int(x) for x in a.frames.split("-"))
        notes = dict(n.split("=", 1) for n in a.note)
        lad = load(a.pcap, first, last, a.mbx, a.port, a.s2c_drops_injected, notes)
    except (ValueError, OSError) as e:
        print(f"ladder: {e}", file=sys.stderr)
        return 2
    if a.json:
        with open(a.json, "w") as f:
            json.dump(lad, f, indent=1)
    if a.out:
        draw(lad, a.out, a.title)
    if not a.json and not a.out:
        for x in lad["arrows"]:
            print(f"{x['frame'] if x['frame'] else '-':>4} {x['t_ms']:9.3f} {x['dir']} "
                  f"{'INJ ' if x['injected'] else ''}{'DROP ' if x['dropped'] else ''}{x['label']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
