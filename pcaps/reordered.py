#!/usr/bin/python3
"""Two GETs sent back to back arrive swapped. Naive answers the second
first (its reply acks bytes the client never had answered); guarded drops
the early one so the client sends it again in order."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
a, b = resp("GET", "a"), resp("GET", "b")
s0 = c.c
c.c2s(b, seq=s0 + len(a), ack=c.sv)
c.c2s(a, seq=s0, ack=c.sv)
c.c = s0 + len(a)
c.sv += len(bulk("1"))
c.expected += bulk("1")
c.c2s(b, seq=s0 + len(a), ack=c.sv, ms=200)
c.c = s0 + len(a) + len(b)
c.expected += bulk("2")
c.write("reordered", __doc__.strip(), {"a": "1", "b": "2"},
        {"off": "POP P P P", "naive": "POP T T T", "guarded": "POP D T T"},
        live={"off": "correct", "naive": "wrong-bytes", "guarded": "correct"})
