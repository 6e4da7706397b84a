#!/usr/bin/python3
"""A SET whose key arrives in the second segment. Naive parses each segment
alone (like BMC), never sees the key and keeps serving the old value;
guarded follows the stream and invalidates."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
req = resp("SET", "foo", "new")
c.to_kernel(req[:17])
c.to_kernel(req[17:], b"+OK\r\n")
c.to_kernel(resp("GET", "foo"), bulk("new"))
c.stale = ["old"]
c.write("split_set", __doc__.strip(), {"foo": "old"},
        {"off": "POP P PO PO", "naive": "POP P PO TO", "guarded": "POP P PO PO"},
        live={"off": "correct", "naive": "stale", "guarded": "correct"})
