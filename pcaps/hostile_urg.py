#!/usr/bin/python3
"""Issue 19, class 5. After an answered GET, a GET with URG set (urgent
pointer 1): Linux takes the urgent byte out of the stream, so Redis reads
"2\\r\\n$3..." and replies with a protocol error. It is never answered; it
passes translated and the flow is handed to the kernel (our parser no
longer reads what Redis reads)."""
from scapy.all import TCP

from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
p = c.c2s(resp("GET", "foo"), flags="PAU", advance=False)
p[TCP].urgptr = 1
urg = len(c.frames)
seq = c.c
c.write("hostile_urg", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P", "naive": "POP T T", "guarded": "POP T P", "retrans": "POP T P"},
        checks=[{"frame": urg, "mode": m, "field": "seq_out", "value": seq - 22,
                 "why": "URG: passed translated, not answered"}
                for m in ("guarded", "retrans")])
