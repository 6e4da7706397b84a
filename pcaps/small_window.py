#!/usr/bin/python3
"""The client advertises a zero window with a GET (a full receive buffer).
Naive replies anyway, beyond the window; guarded lets the kernel, which
knows how to wait for a window, answer."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.c2s(resp("GET", "foo"), window=0)
c.kack = c.c
c.c2s(flags="A", ms=100)        # the window opens again
c.s2c(bulk("bar"))
c.write("small_window", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O", "naive": "POP T P O", "guarded": "POP P P O"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
