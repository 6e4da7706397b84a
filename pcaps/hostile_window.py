#!/usr/bin/python3
"""Issue 19, class 8. The SYN-ACK advertises 65160 with window scale 7:
that field is never scaled, the kernel's next segments say 509 (65160 >>
7). The first reply prestack sends must advertise 509 too, not 65160
(which the client would read as 8.3 MB)."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
first = len(c.frames)
c.to_kernel(resp("PING"), b"+PONG\r\n")
c.hit(resp("GET", "foo"), bulk("bar"))
c.write("hostile_window", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O P", "naive": "POP T P O T", "guarded": "POP T P O T",
         "retrans": "POP T P O T"},
        checks=[{"frame": f, "mode": m, "field": "window_out", "value": 509,
                 "why": "the window the kernel would advertise"}
                for m in ("naive", "guarded", "retrans") for f in (first, len(c.frames))])
