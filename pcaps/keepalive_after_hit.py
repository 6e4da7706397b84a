#!/usr/bin/python3
"""TCP keep-alive on an idle pooled connection whose last request was
answered at XDP: the probe (seq = next - 1, no data; then BSD's form with
one garbage byte) falls inside the answered run. It must reach the kernel
one below its own rcv_nxt, so that the kernel takes it as old and ACKs,
and that ACK must ack the client's next byte. With one level of history
the probe reached the kernel 21 bytes ahead: ignored, and the client
killed the connection when its probes ran out. The same after several
answered runs separated by requests Redis answered."""
from lib import Conv, bulk, resp

c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
c.c2s(flags="A")                                   # the reply read
c.c2s(flags="A", seq=c.c - 1, ms=75000)            # 6: keep-alive probe
c.s2c(flags="A")                                   # 7: the kernel's ACK
c.c2s(b"\x00", flags="A", seq=c.c - 1, ms=75000)   # 8: with a garbage byte
c.s2c(flags="A")
for _ in range(2):
    c.to_kernel(resp("SET", "x", "1"), b"+OK\r\n")
    c.hit(resp("GET", "foo"), bulk("bar"))
    c.c2s(flags="A")
c.c2s(flags="A", seq=c.c - 1, ms=75000)            # 18: after three runs
c.s2c(flags="A")                                   # 19
rcv_nxt = 1000001 + 2 * 27                         # what the kernel has
nxt = rcv_nxt + 3 * 22                             # the client's next seq
checks = []
for m in ("naive", "guarded", "retrans"):
    checks += [
        {"frame": 6, "mode": m, "field": "seq_out", "value": 1000000,
         "why": "the probe one below the kernel's rcv_nxt (1000001): old, ACKed"},
        {"frame": 6, "mode": m, "field": "ack_out", "value": 5000001,
         "why": "the client acked the injected reply: what the kernel sent"},
        {"frame": 7, "mode": m, "field": "ack_out", "value": 1000023,
         "why": "the kernel's ACK acks the client's next byte"},
        {"frame": 8, "mode": m, "field": "seq_out", "value": 1000000,
         "why": "the garbage byte ends at the kernel's rcv_nxt: old, ACKed"},
        {"frame": 18, "mode": m, "field": "seq_out", "value": rcv_nxt - 1,
         "why": "after three answered runs, one below the kernel's rcv_nxt"},
        {"frame": 19, "mode": m, "field": "ack_out", "value": nxt,
         "why": "the kernel's ACK acks the client's next byte"},
    ]
c.write("keepalive_after_hit", __doc__.strip(), {"foo": "bar"},
        {"off": "POP P PP O P O PO PP PO PP PO",
         "naive": "POP T PP O P O PO TP PO TP PO",
         "guarded": "POP T PP O P O PO TP PO TP PO",
         "retrans": "POP T PP O P O PO TP PO TP PO"},
        live={"off": "correct", "naive": "correct", "guarded": "correct",
              "retrans": "correct"},
        checks=checks)
