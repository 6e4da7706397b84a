#!/usr/bin/python3
"""Redis 7.0 refuses a bulk length with a leading zero ($03): "-ERR Protocol
error: invalid bulk length", connection closed. prestack gives the stream
up (never answered); before, the GET was answered from the cache."""
from lib import Conv, bulk, resp  # noqa: F401

GET = resp("GET", "foo")

c = Conv()
c.handshake()
c.to_kernel(GET.replace(b"$3\r\nGET", b"$03\r\nGET"), b"-ERR Protocol error: invalid bulk length\r\n")
c.s2c(flags="FA")
want = "POP P O O"
c.write("redis_reject_bulk_zero", __doc__.strip(), {"foo": "bar"},
        {"off": want, "naive": want, "guarded": want, "retrans": want})
