#!/usr/bin/python3
"""Issue 19, class 9. After an answered GET, a SET arrives as two IP
fragments. The first holds the TCP header: its seq/ack are translated
(the checksum updated incrementally stays right for the reassembled
segment) and, since the SET's bytes are not all in it, the flow is handed
to the kernel with the cache flushed; the second fragment has no TCP
header and passes untouched. The GET after it goes to Redis (naive,
which parsed only the first fragment, answers it with the stale value)."""
from scapy.all import IP, Ether, fragment

from lib import CLI_MAC, SRV_MAC, Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
seq = c.c
p = c.c2s(resp("SET", "foo", "baz"))
c.kack += len(resp("SET", "foo", "baz"))
c.frames.pop()
p[IP].flags = 0
for i, fr in enumerate(fragment(p[IP], fragsize=40)):
    e = Ether(src=CLI_MAC, dst=SRV_MAC) / fr
    e.time = p.time + i * 0.0001
    c.frames.append(e)
first = len(c.frames) - 1
c.s2c(b"+OK\r\n")
c.to_kernel(resp("GET", "foo"), bulk("baz"))
c.write("hostile_frag", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P P O P O", "naive": "POP T P P O T O",
         "guarded": "POP T P P O P O", "retrans": "POP T P P O P O"},
        checks=[{"frame": first, "mode": m, "field": "seq_out", "value": seq - 22,
                 "why": "the first fragment translated into kernel space"}
                for m in ("naive", "guarded", "retrans")])
