#!/usr/bin/python3
"""SACK and D-SACK blocks from the client name server bytes in its own
space: after an injected reply they must be shifted like the ack, and an
edge inside the injected bytes must not reach the kernel beyond what it
sent."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(resp("SET", "x", "1"), b"+OK\r\n")
# D-SACK of the +OK, as a client that got it twice would send
sack = [("NOP", None), ("NOP", None), ("Timestamp", (500, 7005)),
        ("NOP", None), ("NOP", None), ("SAck", (c.sv - 5, c.sv))]
c.c2s(flags="A", opts=sack)
c.write("sack", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P PO P", "naive": "POP T PO P", "guarded": "POP T PO P"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
