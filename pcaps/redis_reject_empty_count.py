#!/usr/bin/python3
"""Redis 7.0 refuses an empty count (*\\r\\n) before a GET in the same
segment: "-ERR Protocol error: invalid multibulk length", connection
closed. Never answered; before, "*\\r\\n" read as "*0" and the GET was."""
from lib import Conv, bulk, resp  # noqa: F401

GET = resp("GET", "foo")

c = Conv()
c.handshake()
c.to_kernel(b"*\r\n" + GET, b"-ERR Protocol error: invalid multibulk length\r\n")
c.s2c(flags="FA")
want = "POP P O O"
c.write("redis_reject_empty_count", __doc__.strip(), {"foo": "bar"},
        {"off": want, "naive": want, "guarded": want, "retrans": want})
