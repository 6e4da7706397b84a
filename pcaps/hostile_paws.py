#!/usr/bin/python3
"""Issue 19, class 3 (PAWS). After an answered GET, a pure ACK and a GET
whose TSval went back by 20 ticks: Linux drops both (PAWS), so neither is
answered; they pass translated, and the flow is handed to the kernel (our
ts_recent is not exactly the kernel's). The GET's retransmission with a
fresh TSval goes to Redis."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
old = c.ctsv - 20
c.c2s(flags="A", opts=c._opts(old, c.stsv), advance=False)
c.c2s(resp("GET", "foo"), opts=c._opts(old, c.stsv), advance=False)
stale = len(c.frames)
seq = c.c
c.to_kernel(resp("GET", "foo"), bulk("bar"))
c.write("hostile_paws", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P P P O", "naive": "POP T P T T O",
         "guarded": "POP T P P P O", "retrans": "POP T P P P O"},
        checks=[{"frame": stale, "mode": m, "field": "seq_out", "value": seq - 22,
                 "why": "a PAWS failure passes translated, not answered"}
                for m in ("guarded", "retrans")])
