#!/usr/bin/python3
"""Clean GET/SET mix: hits, a write, a miss, a counter, a close. The baseline
every mode must pass."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(resp("SET", "other", "1"), b"+OK\r\n")
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(resp("GET", "nokey"), bulk(None))
c.to_kernel(resp("INCR", "ctr"), b":1\r\n")
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(b"", flags="FA")
c.kack += 1
c.s2c(flags="FA")
c.c2s(flags="A")
c.write("clean_mix", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P PO P PO PO P P O P",
         "naive": "POP T PO T PO PO T P O P",
         "guarded": "POP T PO T PO PO T P O P"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
