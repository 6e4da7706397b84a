#!/usr/bin/python3
"""Timestamps were negotiated but a GET comes without the option (RFC 7323
lets the receiver drop it). Naive answers; guarded leaves it to the kernel.
Replies always carry a TSval not below what the kernel last sent (PAWS)."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.c2s(resp("GET", "foo"), opts=[])
c.kack = c.c
c.s2c(bulk("bar"))
c.write("timestamps", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O", "naive": "POP T T O", "guarded": "POP T P O"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
