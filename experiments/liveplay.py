#!/usr/bin/python3
"""liveplay.py - replay the client side of a pcaps/ scenario against the
live server (run inside the client namespace by experiments/liveplay).

The client's own sequence numbers are the capture's (we are the client);
acks are rebased to the live server's ISN and never acknowledge more than
was received; TSecr echoes the live server's last TSval. Frames go out at
layer 2 (AF_PACKET), so the nftables rule that drops this namespace's
kernel RSTs for the port does not drop ours. Pacing: after each frame with
data, wait for the server's bytes to settle (or the capture's own gap when
it is longer). Then classify what arrived against the expected stream:
correct, wrong-bytes, stale, stall, reset. Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

from scapy.all import (IP, TCP, AsyncSniffer, Ether, Raw, conf, rdpcap,  # noqa: E402
                       sendp)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from prestack_lib.outcome import classify, reassemble  # noqa: E402
from prestack_lib.testbed import DEV_CLI, PORT  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("pcap")
ap.add_argument("--meta", required=True, help="the scenario's .json")
ap.add_argument("--iface", default=DEV_CLI)
ap.add_argument("--dst-mac", required=True, help="the server veth's MAC")
ap.add_argument("--settle", type=float, default=0.15)
ap.add_argument("--tail", type=float, default=1.5, help="seconds to wait at the end")
ap.add_argument("--max-gap", type=float, default=2.0,
                help="longest pause between two frames, in seconds: a capture's idle "
                     "time (keep-alive's 75 s) is cut to it; neither end's timers "
                     "run on the client's idle time here, and the suite's per-run "
                     "timeout stays short")
a = ap.parse_args()
conf.verb = 0

meta = json.load(open(a.meta))
frames = rdpcap(a.pcap)
cport = next(p[TCP].sport for p in frames if TCP in p and p[TCP].dport == PORT)
isn_pcap = meta["server_isn"]

captured = []  # AsyncSniffer.results is only set once it stops
sniff = AsyncSniffer(iface=a.iface, store=False, prn=captured.append,
                     filter=f"tcp and src port {PORT} and dst port {cport}")
sniff.start()
time.sleep(0.3)

state = {"isn": None, "tsval": 0, "seen": 0}


def server_pkts():
    return [p for p in list(captured) if TCP in p]


def update():
    """Learn the live ISN and the server's TSval; return the contiguous
    bytes received so far (client space, from ISN + 1)."""
    pk = server_pkts()
    for p in pk[state["seen"]:]:
        t = p[TCP]
        if t.flags & 0x12 == 0x12 and state["isn"] is None:
            state["isn"] = t.seq
        for o in t.options:
            if o[0] == "Timestamp":
                state["tsval"] = max(state["tsval"], o[1][0])
    state["seen"] = len(pk)


def received():
    if state["isn"] is None:
        return b"", False, False, False
    segs = [(p[TCP].seq, bytes(p[TCP].payload), bool(p[TCP].flags & 0x04))
            for p in server_pkts()]
    return reassemble(segs, state["isn"])


def settle(limit):
    t0 = time.time()
    last, last_change = len(server_pkts()), time.time()
    while time.time() - t0 < limit:
        time.sleep(0.02)
        n = len(server_pkts())
        if n != last:
            last, last_change = n, time.time()
        elif time.time() - last_change > a.settle and time.time() - t0 > a.settle:
            break
    update()


prev_t = None
for p in frames:
    if TCP not in p or p[TCP].dport != PORT:
        continue
    gap = 0 if prev_t is None else float(p.time - prev_t)
    prev_t = p.time
    if gap > 0.05:
        time.sleep(min(gap, a.max_gap))
    t = p[TCP]
    update()
    ack = 0
    if t.flags & 0x10 and state["isn"] is not None:
        got, _, _, _ = received()
        rcv_nxt = (state["isn"] + 1 + len(got)) & 0xffffffff
        want = (t.ack - isn_pcap + state["isn"]) & 0xffffffff
        # never ack what did not arrive
        ack = want if ((rcv_nxt - want) & 0xffffffff) < 1 << 31 else rcv_nxt
    opts = []
    for o in t.options:
        if o[0] == "Timestamp":
            opts.append(("Timestamp", (o[1][0], state["tsval"] if t.flags & 0x10 else 0)))
        elif o[0] == "SAck" and state["isn"] is not None:
            opts.append(("SAck", tuple((e - isn_pcap + state["isn"]) & 0xffffffff
                                       for e in o[1])))
        else:
            opts.append(o)
    q = (Ether(dst=a.dst_mac) / IP(src=p[IP].src, dst=p[IP].dst, id=p[IP].id, flags="DF") /
         TCP(sport=t.sport, dport=t.dport, seq=t.seq, ack=ack, flags=t.flags,
             window=t.window, options=opts))
    if len(t.payload):
        q = q / Raw(bytes(t.payload))
    sendp(q, iface=a.iface)
    if t.flags & 0x02:
        for _ in range(100):
            time.sleep(0.02)
            update()
            if state["isn"] is not None:
                break
        if state["isn"] is None:
            sniff.stop()
            print(json.dumps({"outcome": "stall", "why": "no SYN-ACK"}))
            sys.exit(0)
    else:
        settle(1.0)

time.sleep(a.tail)
update()
sniff.stop()
got, conflict, extra, rst = received()
want = meta["expected_stream"].encode("latin1")
outcome = classify(got, conflict, extra, rst, meta)
print(json.dumps({"outcome": outcome, "received": len(got), "expected": len(want),
                  "conflict": conflict, "rst": rst,
                  "server_segments": len(server_pkts())}))
