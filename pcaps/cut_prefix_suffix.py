#!/usr/bin/python3
"""Per-command answering: a GET hit, a SET and a GET hit in one segment.
The kernel gets the SET alone; Redis's +OK goes out with the first hit's
reply before it and the second's after it (TC egress inserts them), then
a lone hit is answered whole at XDP."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
k0 = c.kack
c.cut(resp("GET", "a") + resp("SET", "k", "v") + resp("GET", "b"), resp("SET", "k", "v"))
sv0 = c.sv
c.s2c_runs(b"+OK\r\n", bulk("1") + b"+OK\r\n" + bulk("2"))
c.hit(resp("GET", "a"), bulk("1"))
checks = [{"frame": 4, "mode": m, "field": "seq_out", "value": str(k0),
           "why": "the kernel's seq: nothing consumed before the segment"}
          for m in ("guarded", "retrans")]
checks += [{"frame": 5, "mode": m, "field": "seq_out", "value": str(sv0),
            "why": "the rebuilt segment starts with the first hit's reply"}
           for m in ("guarded", "retrans")]
c.write("cut_prefix_suffix", __doc__.strip(), {"a": "1", "b": "2"},
        {"guarded": "POP P O T", "retrans": "POP P O T"},
        checks=checks, offline={"guarded": "correct", "retrans": "correct"})
