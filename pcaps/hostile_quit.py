#!/usr/bin/python3
"""Issue 19, class 10. After an answered GET the client sends QUIT (Redis
says +OK and closes) and then, wrongly, another GET: Redis would never
answer it, nor may prestack. Redis's FIN, the client's FIN, the kernel's
last ACK: the flow is done. The client did not get that ACK and sends
its FIN again; the kernel (TIME_WAIT) acks it again: both must still be
translated (22 bytes consumed, 9 injected)."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.to_kernel(resp("QUIT"), b"+OK\r\n")
c.to_kernel(resp("GET", "foo"))
after_quit = len(c.frames)
c.s2c(flags="FA")
fin_seq = c.c
c.c2s(flags="FA")
c.kack += 1
c.s2c(flags="A")
c.c2s(flags="FA", seq=fin_seq, advance=False)
late_fin = len(c.frames)
tw_seq, tw_ack = c.sv, c.c
c.s2c(flags="A", advance=False)
tw_ack_frame = len(c.frames)
why = "translated after the flow is done"
checks = []
for m in ("naive", "guarded", "retrans"):
    checks += [{"frame": late_fin, "mode": m, "field": "seq_out", "value": fin_seq - 22,
                "why": "the retransmitted FIN " + why},
               {"frame": tw_ack_frame, "mode": m, "field": "seq_out", "value": tw_seq,
                "why": "TIME_WAIT's ACK " + why},
               {"frame": tw_ack_frame, "mode": m, "field": "ack_out", "value": tw_ack,
                "why": "TIME_WAIT's ACK " + why}]
c.write("hostile_quit", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P P O P O P O P O", "naive": "POP T P O P O P O P O",
         "guarded": "POP T P O P O P O P O", "retrans": "POP T P O P O P O P O"},
        checks=checks)
