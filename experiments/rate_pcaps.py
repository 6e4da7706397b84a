#!/usr/bin/python3
"""rate_pcaps.py OUTDIR N SRC_MAC DST_MAC - pcaps for replay-rate.sh: rate-syn.pcap (one
SYN from the testbed client, port 41000) and rate-gets.pcap (N pipelined-free GETs of
rate:0..99 on that connection, contiguous sequence numbers)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pcaps"))
import lib  # noqa: E402
from lib import Conv, resp  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

out, n = sys.argv[1], int(sys.argv[2])
lib.CLI_MAC, lib.SRV_MAC = sys.argv[3], sys.argv[4]   # the testbed's own
c = Conv(cport=41000, ts=False)
c.c2s(flags="S", ack=0, opts=[("MSS", 1460), ("NOP", None), ("WScale", 7)])
wrpcap(os.path.join(out, "rate-syn.pcap"), c.frames)
c.frames = []
for i in range(n):
    c.c2s(resp("GET", f"rate:{i % 100}"), ack=0, flags="PA", ms=0)
wrpcap(os.path.join(out, "rate-gets.pcap"), c.frames)
