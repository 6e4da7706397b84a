#!/usr/bin/python3
"""The reply to an answered GET is lost: the client retransmits the GET.
Guarded re-sends the very same reply bytes at the same sequence number;
naive answers it again as new data, counting the injection twice."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
get = resp("GET", "foo")
c.c2s(get, seq=c.c - len(get), ack=c.sv - len(bulk("bar")), ms=200)
c.hit(resp("GET", "baz"), bulk("quux"))
c.to_kernel(resp("SET", "x", "1"), b"+OK\r\n")
c.write("retrans_answered_get", __doc__.strip(), {"foo": "bar", "baz": "quux"},
        {"off": "POP P P P PO", "naive": "POP T T T PO", "guarded": "POP T T T PO"},
        live={"off": "correct", "naive": "wrong-bytes", "guarded": "correct"},
        checks=[{"frame": 5, "mode": "guarded", "field": "seq_out", "value": 5000001,
                 "why": "the retransmitted reply sits where the first one did"},
                {"frame": 5, "mode": "naive", "field": "seq_out", "value": 5000010,
                 "why": "naive places the second copy after the first: 9 bytes too far"},
                {"frame": 8, "mode": "naive", "field": "seq_out", "value": 5000001 + 28,
                 "why": "the kernel's +OK shifted by the double-counted injection"},
                {"frame": 8, "mode": "guarded", "field": "seq_out", "value": 5000001 + 19,
                 "why": "the kernel's +OK right after the two replies"}])
