#!/usr/bin/python3
"""Per-command answering: hits between commands Redis answers (SET, a GET
that misses, SET). Each hit's reply goes right after the reply of the
last command before it that Redis answers; Redis gets the three others."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.cut(resp("SET", "x", "1") + resp("GET", "a") + resp("GET", "nokey") +
      resp("GET", "b") + resp("SET", "y", "2") + resp("GET", "a"),
      resp("SET", "x", "1") + resp("GET", "nokey") + resp("SET", "y", "2"))
c.s2c_runs(b"+OK\r\n$-1\r\n+OK\r\n",
           b"+OK\r\n" + bulk("1") + b"$-1\r\n" + bulk("2") + b"+OK\r\n" + bulk("1"))
c.write("cut_middle", __doc__.strip(), {"a": "1", "b": "2"},
        {"guarded": "POP P O", "retrans": "POP P O"},
        offline={"guarded": "correct", "retrans": "correct"})
