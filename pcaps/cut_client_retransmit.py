#!/usr/bin/python3
"""Per-command answering: the client sends a partly answered segment again
(GET hit, SET). The GET is cut again where it was, the SET reaches the
kernel at the same seq as the first time (old bytes for it), and no run is
queued twice: the client receives the hit's reply and +OK once."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
seg = resp("GET", "a") + resp("SET", "x", "1")
c0, k0 = c.c, c.kack
c.cut(seg, resp("SET", "x", "1"))
c.c2s(seg, seq=c0)
c.s2c_runs(b"+OK\r\n", bulk("1") + b"+OK\r\n")
checks = [{"frame": 5, "mode": m, "field": "seq_out", "value": str(k0),
           "why": "cut again: the SET at the seq it had the first time"}
          for m in ("guarded", "retrans")]
c.write("cut_client_retransmit", __doc__.strip(), {"a": "1"},
        {"guarded": "POP P P O", "retrans": "POP P P O"},
        checks=checks, offline={"guarded": "correct", "retrans": "correct"})
