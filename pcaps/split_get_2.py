#!/usr/bin/python3
"""A GET split over two segments: no complete command in either. Both go to
Redis; the next whole GET is answered again."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
req = resp("GET", "foo")
c.to_kernel(req[:10])
c.to_kernel(req[10:], bulk("bar"))
c.hit(req, bulk("bar"))
c.write("split_get_2", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P PO P", "naive": "POP P PO T", "guarded": "POP P PO T"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
