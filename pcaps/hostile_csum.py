#!/usr/bin/python3
"""Issue 19, class 3 (checksums). A GET whose key was corrupted in flight
("foo" read as "fop", also cached) and a SET whose key was: both have a
wrong TCP checksum, so the kernel drops them and prestack must answer
neither nor learn from them (passed untouched). Their good
retransmissions follow: the GET is answered with foo's value, the SET is
parsed (not taken for old bytes) and invalidates foo, so the next GET
misses and Redis answers it with the new value."""
from scapy.all import Ether, Raw, TCP

from lib import Conv, bulk, resp


def corrupt(p, at, byte):
    """Change one payload byte, keep the checksum of the good segment."""
    p[TCP].chksum = Ether(bytes(p))[TCP].chksum
    load = bytearray(p[Raw].load)
    load[at] = byte
    p[Raw].load = bytes(load)


c = Conv()
c.handshake()
c.hit(resp("GET", "foo"), bulk("bar"))
seq = c.c
corrupt(c.c2s(resp("GET", "foo"), advance=False), 19, ord("p"))
bad_get = len(c.frames)
c.hit(resp("GET", "foo"), bulk("bar"))
seq_set = c.c
corrupt(c.c2s(resp("SET", "foo", "baz"), advance=False), 18, ord("n"))
bad_set = len(c.frames)
c.to_kernel(resp("SET", "foo", "baz"), b"+OK\r\n")
c.to_kernel(resp("GET", "foo"), bulk("baz"))
untouched = "a wrong checksum: passed untouched (client-space seq), the kernel drops it"
c.write("hostile_csum", __doc__.strip(), {"foo": "bar", "fop": "xxx"},
        {"off": "POP P P P P P O P O", "naive": "POP T T T P P O P O",
         "guarded": "POP T P T P P O P O", "retrans": "POP T P T P P O P O"},
        checks=[{"frame": f, "mode": m, "field": "seq_out", "value": v, "why": untouched}
                for m in ("guarded", "retrans")
                for f, v in ((bad_get, seq), (bad_set, seq_set))])
