"""outcome.py - for the replay suite, the live replayer and the offline
replay test: running `prestack replay` on a scenario, rebuilding the
byte stream a client receives from server segments, and classifying it
against the scenario's expected RESP stream."""
import csv
import os
import subprocess

from . import PS, TOP

LETTER = {("c2s", "pass"): "P", ("c2s", "tx"): "T", ("c2s", "drop"): "D",
          ("s2c", "ok"): "O",
          # a later IP fragment: no TCP header, passed untouched
          ("other", "pass"): "P"}


def replay(meta, mode, tmp, tag):
    """`prestack replay` of pcaps/<name>.pcap with the scenario's cache.
    Returns (csv rows, output pcap, stderr); rows is None on failure."""
    cf = os.path.join(tmp, f"{tag}.cache")
    with open(cf, "w") as f:
        for k, v in meta["cache"].items():
            f.write(f"{k}={v}\n")
    pcap = os.path.join(TOP, "pcaps", meta["name"] + ".pcap")
    out = os.path.join(tmp, f"{tag}.pcap")
    rows = os.path.join(tmp, f"{tag}.csv")
    r = subprocess.run([PS, "replay", pcap, "--mode", mode, "--cache-file", cf,
                        "-o", out, "--csv", rows], capture_output=True, text=True)
    if r.returncode:
        return None, out, r.stderr
    with open(rows) as f:
        return list(csv.DictReader(f)), out, ""


def trace(rows):
    return "".join(LETTER.get((r["dir"], r["verdict"]), "?") for r in rows)


def reassemble(segments, isn):
    """segments: (seq, payload, rst) of server -> client TCP segments.
    Returns (contiguous bytes from isn + 1, conflict, bytes after a hole, rst)."""
    data, conflict, rst = {}, False, False
    for seq, pl, is_rst in segments:
        rst |= is_rst
        off = (seq - (isn + 1)) & 0xffffffff
        if off > 1 << 30:
            continue  # before the stream (the SYN-ACK)
        for i, b in enumerate(pl):
            if data.setdefault(off + i, b) != b:
                conflict = True
    out = bytearray()
    while len(out) in data:
        out.append(data[len(out)])
    extra = any(o >= len(out) for o in data)
    return bytes(out), conflict, extra, rst


def client_stream(out_pcap, isn, port):
    """What the client receives, from a replay's output pcap: every
    segment from the server's port, reassembled from isn + 1."""
    from scapy.all import TCP, rdpcap
    segs = [(p[TCP].seq, bytes(p[TCP].payload), bool(p[TCP].flags & 0x04))
            for p in rdpcap(out_pcap) if TCP in p and p[TCP].sport == port]
    return reassemble(segs, isn)


def classify(got, conflict, extra, rst, meta):
    """correct, stale, stall, reset or wrong-bytes."""
    want = meta["expected_stream"].encode("latin1")
    clean = not conflict and not extra
    if clean and got == want:
        return "reset" if rst else "correct"
    for v in meta.get("stale_values", []):
        vb = v.encode()
        bulk = b"$%d\r\n%s\r\n" % (len(vb), vb)
        if bulk in got and bulk not in want:
            return "stale"
    if not conflict and want.startswith(got) and len(got) < len(want):
        return "reset" if rst else "stall"
    return "wrong-bytes"
