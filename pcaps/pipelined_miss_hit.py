#!/usr/bin/python3
"""Pipelined: a GET that misses, then at once a GET that hits. Naive answers
the hit before Redis answers the miss: the replies arrive in the wrong
order. (Guarded and retrans cut the hit and put its reply after the one
Redis owes: cut_owed.)"""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.to_kernel(resp("GET", "nokey"))
c.to_kernel(resp("GET", "foo"))
c.s2c(bulk(None))
c.s2c(bulk("bar"))
c.write("pipelined_miss_hit", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O O", "naive": "POP P T O O"},
        live={"off": "correct", "naive": "wrong-bytes"})
