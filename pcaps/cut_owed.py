#!/usr/bin/python3
"""Per-command answering: a GET hit alone while Redis still owes the reply
to a SET. Answered now it would overtake that reply: it is cut, nothing is
left for the kernel (its ACK tells it nothing new: dropped), and its reply
goes right after Redis's +OK."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.to_kernel(resp("SET", "x", "1"))
c.cut(resp("GET", "a"), b"")
c.s2c_runs(b"+OK\r\n", b"+OK\r\n" + bulk("1"))
c.write("cut_owed", __doc__.strip(), {"a": "1"},
        {"guarded": "POP P D O", "retrans": "POP P D O"},
        offline={"guarded": "correct", "retrans": "correct"})
