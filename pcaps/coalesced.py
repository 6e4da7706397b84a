#!/usr/bin/python3
"""Several GETs coalesced in one segment: all hits are answered with one
reply; one miss among them sends the whole segment to Redis (off, naive;
guarded and retrans cut the hits around the miss instead: cut_middle)."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "a") + resp("GET", "b") + resp("GET", "c"),
      bulk("1") + bulk("2") + bulk("3"))
c.to_kernel(resp("GET", "a") + resp("GET", "zz") + resp("GET", "c"),
            bulk("1") + bulk(None) + bulk("3"))
c.hit(resp("GET", "b"), bulk("2"))
c.write("coalesced", __doc__.strip(), {"a": "1", "b": "2", "c": "3"},
        {"off": "POP P PO P", "naive": "POP T PO T"},
        live={"off": "correct", "naive": "correct"})
