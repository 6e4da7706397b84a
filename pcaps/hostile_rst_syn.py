#!/usr/bin/python3
"""Issue 19, class 2. After an answered GET, an RST far outside the window
(Linux ignores it), an RST in the window but not at the next byte (Linux
sends a challenge ACK) and a late copy of the client's SYN (a challenge
ACK too) all keep the flow: the kernel's next reply reaches the client at
the client-space seq, and the next GET is answered again."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.c2s(flags="R", seq=c.c + 10**7, ack=0, advance=False)
c.c2s(flags="RA", seq=c.c + 100, advance=False)
c.c2s(flags="S", seq=1000000, ack=0, advance=False,
      opts=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (c.ctsv + 1, 0)),
            ("NOP", None), ("WScale", 7)])
pong_seq = c.sv
c.to_kernel(resp("PING"), b"+PONG\r\n")
pong = len(c.frames)
c.hit(resp("GET", "foo"), bulk("bar"))
why = "the kernel's reply at the client's seq: the flow kept its offsets"
c.write("hostile_rst_syn", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P PPP P O P", "naive": "POP T PPP P O T",
         "guarded": "POP T PPP P O T", "retrans": "POP T PPP P O T"},
        checks=[{"frame": pong, "mode": m, "field": "seq_out", "value": pong_seq,
                 "why": why} for m in ("naive", "guarded", "retrans")])
