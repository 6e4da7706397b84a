#!/usr/bin/python3
"""A fill overtaken by a write: connection A's GET k misses and reaches
Redis, which answers it with the old value; meanwhile connection B's SET k
reaches Redis (invalidated at XDP) after A's GET ran. A's reply, old, must
not fill: B's next GET k goes to Redis. (The cross-CPU interleaving, the
write landing between the fill's epoch check and its insert, cannot be
produced by a replay on one CPU: tests/unit's fill race case runs each.)"""
from lib import Conv, bulk, resp

a = Conv()
a.handshake()
b = Conv(cport=40001, cisn=2000000, sisn=6000000)
b.frames, b.t = a.frames, a.t
b.handshake()
a.t = b.t
a.to_kernel(resp("GET", "k"))
b.t = a.t
b.to_kernel(resp("SET", "k", "new"), b"+OK\r\n")
a.t = b.t
a.s2c(bulk("old"))
b.t = a.t
b.to_kernel(resp("GET", "k"), bulk("new"))
b.stale = ["old"]
b.write("fill_overtaken", __doc__.strip(), {},
        {"off": "POP POP P P O O P O", "naive": "POP POP P P O O P O",
         "guarded": "POP POP P P O O P O", "retrans": "POP POP P P O O P O"})
