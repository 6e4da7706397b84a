#!/usr/bin/python3
"""The network duplicates segments: an answered GET and a SET arrive twice.
Guarded re-sends the identical reply for the GET and lets the kernel drop
the duplicate SET; naive answers the GET twice."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
get, setc = resp("GET", "foo"), resp("SET", "k", "v")
c.hit(get, bulk("bar"))
c.c2s(get, seq=c.c - len(get), ack=c.sv - len(bulk("bar")), ms=0)
c.to_kernel(setc)
c.c2s(setc, seq=c.c - len(setc), ack=c.sv, ms=0)
c.s2c(b"+OK\r\n")
c.hit(resp("GET", "foo"), bulk("bar"))
c.write("duplicate_segment", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P P P O P", "naive": "POP T T P P O T",
         "guarded": "POP T T P P O T"},
        live={"off": "correct", "naive": "wrong-bytes", "guarded": "correct"},
        checks=[{"frame": 8, "mode": "naive", "field": "seq_out", "value": 5000001 + 18,
                 "why": "the +OK lands 9 bytes after where the client expects it"},
                {"frame": 8, "mode": "guarded", "field": "seq_out", "value": 5000001 + 9,
                 "why": "+OK right after the single reply"}])
