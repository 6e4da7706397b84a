#!/usr/bin/python3
"""Per-command answering: the kernel retransmits the reply segment that
carried inserted replies (GET hit, SET, GET hit; +OK sent twice). TC egress
inserts the same runs again, at the same seqs: the retransmission carries
what the first segment carried."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.cut(resp("GET", "a") + resp("SET", "k", "v") + resp("GET", "b"), resp("SET", "k", "v"))
k, sv = c.k, c.sv
c.s2c_runs(b"+OK\r\n", bulk("1") + b"+OK\r\n" + bulk("2"))
c.s2c(b"+OK\r\n", seq=k, advance=False)
checks = [{"frame": 6, "mode": m, "field": "seq_out", "value": str(sv),
           "why": "the retransmission starts with the first run again"}
          for m in ("guarded", "retrans")]
c.write("cut_kernel_retransmit", __doc__.strip(), {"a": "1", "b": "2"},
        {"guarded": "POP P O O", "retrans": "POP P O O"},
        checks=checks, offline={"guarded": "correct", "retrans": "correct"})
