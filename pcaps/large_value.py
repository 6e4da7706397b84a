#!/usr/bin/python3
"""A value larger than the client's MSS (536 here). Naive sends it in one
oversized segment; guarded passes the GET and the kernel segments the
reply."""
from lib import Conv, bulk, resp

V = "x" * 1000
c = Conv(mss=536)
c.handshake()
c.to_kernel(resp("GET", "big"))
r = bulk(V)
c.s2c(r[:524])
c.s2c(r[524:])
c.c2s(flags="A")
c.write("large_value", __doc__.strip(), {"big": V},
        {"off": "POP P OO P", "naive": "POP T OO P", "guarded": "POP P OO P"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
