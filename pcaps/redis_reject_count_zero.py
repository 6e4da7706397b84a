#!/usr/bin/python3
"""Redis 7.0 refuses a count with a leading zero (*02): "-ERR Protocol
error: invalid multibulk length", connection closed. Never answered;
before, it was."""
from lib import Conv, bulk, resp  # noqa: F401

GET = resp("GET", "foo")

c = Conv()
c.handshake()
c.to_kernel(GET.replace(b"*2", b"*02"), b"-ERR Protocol error: invalid multibulk length\r\n")
c.s2c(flags="FA")
want = "POP P O O"
c.write("redis_reject_count_zero", __doc__.strip(), {"foo": "bar"},
        {"off": want, "naive": want, "guarded": want, "retrans": want})
