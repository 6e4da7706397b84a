#!/usr/bin/python3
"""A pipelining client with three answered runs outstanding (a GET answered
at XDP, then a SET Redis answers, three times) that has read none of the
replies yet. The kernel retransmits its first two +OKs: each lands after
its round's injected reply. Then the client's SACK blocks and ACKs move
through the runs: each must reach the kernel as what the kernel sent
before (an ack inside an injected reply acks only the kernel's bytes
before it). With one level of history the ACKs of the older runs were
translated to before the server's ISN: challenge ACK, data dropped."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
sv0 = c.sv
s, kok = [], []
for _ in range(3):
    s.append(c.sv)
    c.c2s(resp("GET", "foo"), ack=sv0)             # answered
    c.sv += 9
    c.expected += bulk("bar")
    c.c2s(resp("SET", "x", "1"), ack=sv0)          # to the kernel
    c.kack += 27
    kok.append(c.k)
    c.s2c(b"+OK\r\n")
c.s2c(b"+OK\r\n", seq=kok[0], ms=200)              # 13: retransmissions
c.s2c(b"+OK\r\n", seq=kok[1])                      # 14
blocks = [(s[1] + 3, s[1] + 14), (s[2] + 2, s[2] + 7)]
c.c2s(flags="A", ack=sv0,                          # 15: SACK, nothing read
      opts=[("NOP", None), ("NOP", None), ("Timestamp", (500, 7005)),
            ("NOP", None), ("NOP", None), ("SAck", sum(blocks, ()))])
c.c2s(flags="A", ack=s[0] + 4)                     # 16: inside reply 0
c.c2s(flags="A", ack=s[0] + 14)                    # 17: after +OK 0
c.c2s(flags="A", ack=s[1] + 4)                     # 18: inside reply 1
c.c2s(flags="A")                                   # 19: everything
ans2 = 1000001 + 2 * (22 + 27)                     # the last answered GET
checks = [
    {"frame": 13, "mode": "guarded", "field": "seq_out", "value": s[0] + 9,
     "why": "the first +OK after reply 0, three injections later"},
    {"frame": 13, "mode": "guarded", "field": "ack_out", "value": ans2,
     "why": "the ACK hold: a retransmission acks up to the last answered GET"},
    {"frame": 14, "mode": "guarded", "field": "seq_out", "value": s[1] + 9,
     "why": "the second +OK after reply 1"},
    {"frame": 15, "mode": "guarded", "field": "ack_out", "value": kok[0],
     "why": "nothing read: the kernel's first byte"},
    {"frame": 15, "mode": "guarded", "field": "sack_out",
     "value": f"{kok[1]}-{kok[1] + 5};{kok[2]}-{kok[2]}",
     "why": "edges inside replies stop at the kernel bytes before them"},
    {"frame": 16, "mode": "guarded", "field": "ack_out", "value": kok[0],
     "why": "inside reply 0: what the kernel sent before it"},
    {"frame": 17, "mode": "guarded", "field": "ack_out", "value": kok[1],
     "why": "after the first +OK"},
    {"frame": 18, "mode": "guarded", "field": "ack_out", "value": kok[1],
     "why": "inside reply 1 (one level of history: before the ISN)"},
    {"frame": 19, "mode": "guarded", "field": "ack_out", "value": c.k,
     "why": "everything: the kernel's snd_nxt"},
]
for ch in list(checks):
    if ch["frame"] != 15 and (ch["frame"], ch["field"]) != (13, "ack_out"):
        checks.append(dict(ch, mode="retrans"))
checks.append({"frame": 13, "mode": "retrans", "field": "ack_out", "value": c.c,
               "why": "retrans keeps its replies: no ACK hold, every client byte"})
c.write("acks_pipelined", __doc__.strip(), {"foo": "bar"},
        {"off": "POP PPO PPO PPO OO PPPPP",
         "naive": "POP TPO TPO TPO OO PPPPP",
         "guarded": "POP TPO TPO TPO OO PPPPP",
         "retrans": "POP TPO TPO TPO OO TPPPP"},
        live={"off": "correct", "naive": "wrong-bytes", "guarded": "correct",
              "retrans": "correct"},
        checks=checks)
