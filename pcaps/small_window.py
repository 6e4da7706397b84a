#!/usr/bin/python3
"""The client advertises a zero window with a GET (a full receive buffer).
Naive replies anyway, beyond the window; guarded lets the kernel, which
knows how to wait for a window, answer."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.c2s(resp("GET", "foo"), window=0)
c.kack = c.c
c.s2c(bulk("bar"))
c.write("small_window", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P O", "naive": "POP T O", "guarded": "POP P O"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
