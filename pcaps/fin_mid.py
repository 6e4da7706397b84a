#!/usr/bin/python3
"""The client closes after an answered GET: FIN translated both ways, the
flow freed by the last ACK."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(b"", flags="FA")
c.kack += 1
c.s2c(flags="FA")
c.c2s(flags="A")
c.write("fin_mid", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O P", "naive": "POP T P O P", "guarded": "POP T P O P"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
