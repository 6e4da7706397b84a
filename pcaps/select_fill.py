#!/usr/bin/python3
"""Cross-database fill: connection A runs SELECT 1 and misses foo; Redis
sends db 1's value. A is never answered (not db 0), so its reply must not
fill the shared cache either: connection B (db 0) then asks for foo and
must get db 0's value from Redis, not db 1's from the cache. Before the
fill rule, A's miss armed a fill and B was answered "db1"."""
from lib import Conv, bulk, resp

a = Conv()
a.handshake()
a.to_kernel(resp("SELECT", "1"), b"+OK\r\n")
a.to_kernel(resp("GET", "foo"), bulk("db1"))
b = Conv(cport=40001, cisn=2000000, sisn=6000000)
b.frames = a.frames
b.t = a.t
b.handshake()
b.to_kernel(resp("GET", "foo"), bulk("db0"))
b.write("select_fill", __doc__.strip(), {},
        {"off": "POP P O P O POP P O", "naive": "POP P O P O POP P O",
         "guarded": "POP P O P O POP P O", "retrans": "POP P O P O POP P O"})
