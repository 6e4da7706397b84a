#!/usr/bin/python3
"""A GET split over three segments, the command name itself cut."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
req = resp("GET", "foo")
c.to_kernel(req[:9])
c.to_kernel(req[9:16])
c.to_kernel(req[16:], bulk("bar"))
c.hit(req, bulk("bar"))
c.write("split_get_3", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P PO P", "naive": "POP P P PO T", "guarded": "POP P P PO T"},
        live={"off": "correct", "naive": "correct", "guarded": "correct"})
