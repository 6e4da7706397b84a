#!/usr/bin/python3
"""A CR before '*': Redis 7.0 reads the segment as five inline commands
("\\r*2", "$3", "GET", "$3", "foo") and refuses each with an error; the GET
is never run, so it is not answered (before, the CR was skipped and the
GET answered from the cache). Five replies are owed."""
from lib import Conv, bulk, resp  # noqa: F401

GET = resp("GET", "foo")

c = Conv()
c.handshake()
c.to_kernel(b"\r" + GET,
            b"-ERR unknown command '*2', with args beginning with: \r\n"
            b"-ERR unknown command '$3', with args beginning with: \r\n"
            b"-ERR wrong number of arguments for 'get' command\r\n"
            b"-ERR unknown command '$3', with args beginning with: \r\n"
            b"-ERR unknown command 'foo', with args beginning with: \r\n")
want = "POP P O"
c.write("redis_reject_cr", __doc__.strip(), {"foo": "bar"},
        {"off": want, "naive": want, "guarded": want, "retrans": want})
