#!/usr/bin/python3
"""The client resets the connection after an answered GET: the RST is
translated, the flow forgotten; a later segment of the dead tuple passes
untouched."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.c2s(flags="R", ack=0)
c.c2s(resp("GET", "foo"))
c.write("rst_mid", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P P", "naive": "POP T P P", "guarded": "POP T P P"},
        live={"off": "reset", "naive": "reset", "guarded": "reset"})
