#!/usr/bin/python3
"""Issue 19, class 3 (ACK of unsent data). After an answered GET, a GET
whose ACK covers 5000 server bytes never sent: Linux drops it (and sends
a challenge ACK), so it is not answered; it passes translated and the
flow is handed to the kernel. Its retransmission with a sane ACK goes to
Redis."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.c2s(resp("GET", "foo"), ack=c.sv + 5000, advance=False)
bad = len(c.frames)
seq = c.c
c.to_kernel(resp("GET", "foo"), bulk("bar"))
c.write("hostile_ack", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P P O", "naive": "POP T T T O",
         "guarded": "POP T P P O", "retrans": "POP T P P O"},
        checks=[{"frame": bad, "mode": m, "field": "seq_out", "value": seq - 22,
                 "why": "an ACK beyond what was sent: passed translated, not answered"}
                for m in ("guarded", "retrans")])
