#!/usr/bin/python3
"""What Redis 7.0 reads as GET foo although it is not canonical: "*-1" is no
command, the byte after a count's or a length's CR and the two after an
argument are skipped unread (redis-server 7.0 answers "$3\\r\\nbar\\r\\n").
Answered the same (before, it was given up as unparseable)."""
from lib import Conv, bulk, resp  # noqa: F401

GET = resp("GET", "foo")

c = Conv()
c.handshake()
c.hit(b"*-1\r\n*2\rX$3\rYGETxy$3\r\nfooAB", bulk("bar"))
want = "POP T"
c.write("redis_lax_get", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P", "naive": want, "guarded": want, "retrans": want})
