#!/usr/bin/python3
"""The kernel's +OK is lost on its way to the client; a GET is answered at
XDP meanwhile; then the kernel retransmits the +OK. With one offset (naive)
the retransmission is shifted by the injected reply into the client's
window: the client takes it as new bytes. Guarded maps it with the offset
from before the injection (seqadj history)."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
k0 = c.k
c.to_kernel(resp("SET", "x", "1"), b"+OK\r\n")
sv_before = c.sv - 5            # the client never got the +OK
c.c2s(resp("GET", "foo"), ack=sv_before)
c.expected += bulk("bar")      # answered at XDP, after the +OK
c.s2c(b"+OK\r\n", seq=k0, advance=False, ms=200)
c.write("server_retrans", __doc__.strip(), {"foo": "bar"},
        {"off": "POP PO P O", "naive": "POP PO T O", "guarded": "POP PO T O"},
        live={"off": "correct", "naive": "wrong-bytes", "guarded": "correct"},
        checks=[{"frame": 7, "mode": "guarded", "field": "seq_out", "value": 5000001,
                 "why": "the retransmitted +OK where the first one was"},
                {"frame": 7, "mode": "naive", "field": "seq_out", "value": 5000001 + 9,
                 "why": "shifted by the 9 injected bytes: read as new data"}])
