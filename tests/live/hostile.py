#!/usr/bin/python3
"""Hostile and odd segments on real connections (issue classes 2, 3, 5, 9, 10),
run inside the client namespace by tests/live/test-hostile.sh.

We are the client: a small TCP endpoint in scapy (timestamps on, frames at
layer 2 so the nftables rule that drops this namespace's kernel RSTs for
our ports does not drop ours). Each case opens its own connection, has one
GET answered first (so the flow carries an offset), sends the hostile
segment, then a valid continuation, and checks:
  - what came back for the hostile segment: no data for a segment Linux
    drops, a pure ACK (challenge ACK) where RFC 5961 / Linux send one;
  - the whole stream the client received, byte for byte, against what
    Redis would have sent (nothing shifted, no conflicting bytes).
A few cases check more than the stream (a case adds to f.why, and what it
measured to f.info): the shared cache after a SELECTed connection's miss
(cross_db), the window of a first reply answered at XDP (first_window).
The overlap_* cases (run by test-poststack.sh) resend received bytes with
new commands behind them: each command must be answered once.
Prints one JSON line per case: {"case", "ok", "why", ...}.
"""
import argparse
import json
import os
import socket
import sys
import time

from scapy.all import (IP, TCP, AsyncSniffer, Ether, Raw, conf, fragment,  # noqa: E402
                       raw, sendp)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib.outcome import reassemble  # noqa: E402
from prestack_lib.testbed import DEV_CLI, IP_CLI, IP_SRV, PORT  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--dst-mac", required=True)
ap.add_argument("--base-port", type=int, default=41000)
ap.add_argument("--settle", type=float, default=0.3)
ap.add_argument("--mode", default="off",
                help="the mode attached: outside off, cases whose point is an answer "
                     "at XDP check that there was one")
ap.add_argument("cases", nargs="*")
a = ap.parse_args()
conf.verb = 0


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for x in args:
        x = x if isinstance(x, bytes) else x.encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out


def bulk(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


VAL_A = b"alpha-value"          # h:a, cached (the shell sets and warms it)
VAL_B = b"bravo-value"          # h:b, cached
GET_A, GET_B = resp("GET", "h:a"), resp("GET", "h:b")
DB0_VAL, DB1_VAL = b"h:db-in-db-0", b"h:db-in-db-1"  # cross_db sets them
GET_DB = resp("GET", "h:db")


class Flow:
    """One client connection, sequence numbers in the client's space."""

    def __init__(self, sport):
        self.sport = sport
        self.segs = []
        self.sniff = AsyncSniffer(iface=DEV_CLI, store=False, prn=self.segs.append,
                                  filter=f"tcp and src port {PORT} and dst port {sport}")
        self.sniff.start()
        time.sleep(0.2)
        self.iss = 1000000 + sport * 1000
        self.snd_nxt = self.iss + 1
        self.isn = None
        self.ts_recent = 0
        self.t0 = time.monotonic()
        self.why = []       # what a case found wrong besides the stream
        self.info = {}      # what a case measured, printed with its result

    def tsval(self):
        return 1000 + int((time.monotonic() - self.t0) * 1000)

    def server(self):
        return [p[TCP] for p in list(self.segs) if TCP in p]

    def stream(self):
        segs = [(t.seq, bytes(t.payload), bool(t.flags & 0x04)) for t in self.server()]
        return reassemble(segs, self.isn)

    def rcv_nxt(self):
        return (self.isn + 1 + len(self.stream()[0])) & 0xffffffff

    def learn_ts(self):
        for t in self.server():
            for o in t.options:
                if o[0] == "Timestamp":
                    self.ts_recent = max(self.ts_recent, o[1][0])

    def frame(self, flags="PA", payload=b"", seq=None, ack=None, tsval=None, urgptr=0,
              df=True):
        self.learn_ts()
        tcp = TCP(sport=self.sport, dport=PORT, flags=flags,
                  seq=self.snd_nxt if seq is None else seq,
                  ack=(self.rcv_nxt() if ack is None else ack) if "A" in flags else 0,
                  window=65535, urgptr=urgptr,
                  options=[("NOP", None), ("NOP", None),
                           ("Timestamp", (self.tsval() if tsval is None else tsval,
                                          self.ts_recent if "A" in flags else 0))])
        ip = IP(src=IP_CLI, dst=IP_SRV, flags="DF" if df else 0)
        return ip / tcp / Raw(payload) if payload else ip / tcp

    def send(self, pkt):
        pkts = pkt if isinstance(pkt, list) else [pkt]
        sendp([Ether(dst=a.dst_mac) / p for p in pkts], iface=DEV_CLI)

    def settle(self, limit=1.5):
        t0 = time.monotonic()
        n, last = len(self.segs), time.monotonic()
        while time.monotonic() - t0 < limit:
            time.sleep(0.02)
            if len(self.segs) != n:
                n, last = len(self.segs), time.monotonic()
            elif time.monotonic() - last > a.settle:
                break

    def open(self, wscale=None):
        """The handshake; wscale: offer window scaling with that shift."""
        opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (self.tsval(), 0))]
        if wscale is not None:
            opts += [("NOP", None), ("WScale", wscale)]
        syn = IP(src=IP_CLI, dst=IP_SRV) / TCP(
            sport=self.sport, dport=PORT, flags="S", seq=self.iss, window=65535,
            options=opts)
        self.syn = syn
        self.send(syn)
        for _ in range(100):
            time.sleep(0.02)
            sa = [t for t in self.server() if t.flags & 0x12 == 0x12]
            if sa:
                self.isn = sa[0].seq
                self.synack = sa[0]
                break
        if self.isn is None:
            raise RuntimeError("no SYN-ACK")
        self.ack()

    def ack(self):
        self.send(self.frame("A"))

    def data(self, payload, settle=True, flags="PA", **kw):
        """A valid data segment (or kw's changes); our snd_nxt advances."""
        self.send(self.frame(flags, payload, **kw))
        self.snd_nxt = (self.snd_nxt + len(payload)) & 0xffffffff
        if settle:
            self.settle()
            self.ack()

    def mark(self):
        return len(self.segs)

    def since(self, m):
        """Server segments since mark m: (data bytes, pure ACKs, RSTs)."""
        ts = [p[TCP] for p in list(self.segs)[m:] if TCP in p]
        data = sum(len(t.payload) for t in ts)
        pure = sum(1 for t in ts if not len(t.payload) and t.flags & 0x17 == 0x10)
        rst = sum(1 for t in ts if t.flags & 0x04)
        return data, pure, rst

    def close(self):
        self.sniff.stop()


def redis_says(payload, closed=False):
    """What Redis replies to these bytes on a plain kernel socket (through
    the veth: XDP sees them, so nothing in them may be a GET it could
    answer, unless that is the point, as in fresh_get). closed: also
    return whether Redis closed the connection."""
    s = socket.create_connection((IP_SRV, PORT), timeout=3)
    s.sendall(payload)
    time.sleep(0.3)
    s.settimeout(0.3)
    out, eof = b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                eof = True
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return (out, eof) if closed else out


def fresh_get(key):
    """A GET on a new database-0 connection through the veth: the cache's
    answer when it has the key, Redis's otherwise."""
    return redis_says(resp("GET", key))


def redis_get_calls():
    """How many GETs Redis has run (INFO commandstats, which XDP passes):
    unchanged across a GET means XDP answered it."""
    info = redis_says(resp("INFO", "commandstats")).decode("latin1")
    for line in info.split("\r\n"):
        if line.startswith("cmdstat_get:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def at_xdp(f, what, send):
    """Run send() (GETs of cached keys); outside mode off, a case whose
    point is an answer at XDP must have had one, or it checked nothing.
    An earlier case may have flushed the cache (a flow Redis's parser
    refuses flushes it): fresh_get of the key first fills it again."""
    calls = redis_get_calls()
    send()
    answered = redis_get_calls() == calls
    if a.mode != "off" and not answered:
        f.why.append(f"{what} was not answered at XDP: nothing checked")
    return answered


def bad_checksum(pkt, payload=None):
    """pkt with a TCP checksum that is not its own: pkt's own plus one, or
    (payload given) the checksum of pkt with its payload swapped for
    `payload` as sent, i.e. bytes corrupted in flight."""
    good = IP(raw(pkt))[TCP].chksum
    if payload is not None:
        pkt = pkt.copy()
        pkt[Raw].load = payload
    else:
        good = (good + 1) & 0xffff
    pkt = pkt.copy()
    pkt[TCP].chksum = good
    return pkt


def overlap(f, old, new):
    """A segment that starts `len(old)` bytes back, inside data the server
    has received, with `new` behind it: a retransmission the sender (or a
    middlebox, as in experiments/failures' coalesced) merged with new data.
    TCP queues it whole, old bytes in front, and must deliver `new` once."""
    m = f.mark()
    f.send(f.frame("PA", old + new, seq=(f.snd_nxt - len(old)) & 0xffffffff))
    f.snd_nxt = (f.snd_nxt + len(new)) & 0xffffffff
    f.settle()
    r = f.since(m)
    f.ack()
    return r


def c_overlap_set(f):
    f.data(GET_B)
    r = overlap(f, GET_B, resp("SET", "h:c", "charlie"))
    f.data(GET_A)
    return bulk(VAL_B) + b"+OK\r\n" + bulk(VAL_A), r, "overlap"


def c_overlap_gets(f):
    f.data(GET_B)
    r = overlap(f, GET_B, GET_A)
    f.data(GET_B)
    return bulk(VAL_B) + bulk(VAL_A) + bulk(VAL_B), r, "overlap"


def c_overlap_mid(f):
    f.data(GET_B)
    r = overlap(f, GET_B[-7:], GET_A)    # starts inside the GET's key
    f.data(GET_B)
    return bulk(VAL_B) + bulk(VAL_A) + bulk(VAL_B), r, "overlap"


# Each case: f(flow) -> (expected stream after the warm-up hit, what must
# hold of the server's answer to the hostile segment: "nodata" or
# "challenge"), the hostile segment sent and the continuation done.
def c_bad_checksum(f):
    m = f.mark()
    f.send(bad_checksum(f.frame("PA", GET_A)))   # the kernel drops it; snd_nxt unchanged
    f.settle()
    r = f.since(m)
    f.data(GET_A)                                # its valid retransmission
    return bulk(VAL_A), r, "nodata"


def c_corrupt_set(f):
    good = resp("SET", "h:b", "bravo-new")
    bad = resp("SET", "h:a", "bravo-new")        # a flipped key byte, same length
    m = f.mark()
    f.send(bad_checksum(f.frame("PA", good), payload=bad))
    f.settle()
    r = f.since(m)
    f.data(good)                                 # the retransmission, valid
    f.data(GET_B)
    f.data(GET_A)
    return b"+OK\r\n" + bulk(b"bravo-new") + bulk(VAL_A), r, "nodata"


def c_ack_unsent(f):
    m = f.mark()
    f.send(f.frame("PA", GET_A, ack=(f.rcv_nxt() + 100000) & 0xffffffff))
    f.settle()
    r = f.since(m)
    f.data(GET_A)
    return bulk(VAL_A), r, "nodata"


def c_paws(f):
    m = f.mark()
    f.send(f.frame("PA", GET_A, tsval=(f.tsval() - (1 << 30)) & 0xffffffff))
    f.settle()
    r = f.since(m)
    f.data(GET_A)
    return bulk(VAL_A), r, "nodata"


def c_rst_out_of_window(f):
    m = f.mark()
    f.send(f.frame("RA", seq=(f.snd_nxt + (1 << 30)) & 0xffffffff))
    f.settle()
    r = f.since(m)
    f.data(resp("SET", "h:z", "zulu"))
    f.data(GET_A)
    return b"+OK\r\n" + bulk(VAL_A), r, "nodata"


def c_rst_in_window(f):
    m = f.mark()
    f.send(f.frame("R", seq=(f.snd_nxt + 10) & 0xffffffff))
    f.settle()
    r = f.since(m)
    f.data(resp("SET", "h:z", "zulu"))
    f.data(GET_A)
    return b"+OK\r\n" + bulk(VAL_A), r, "challenge"


def c_syn_again(f):
    m = f.mark()
    f.send(f.syn)                                # the original SYN, byte for byte
    f.settle()
    r = f.since(m)
    f.data(resp("SET", "h:z", "zulu"))
    f.data(GET_A)
    return b"+OK\r\n" + bulk(VAL_A), r, "challenge"


def c_urg(f):
    # the urgent byte is the leading '*': Linux takes it out of the stream,
    # Redis reads the rest as inline commands
    m = f.mark()
    f.data(GET_A, flags="PAU", urgptr=1)
    r = f.since(m)
    want = redis_says(GET_A[1:])
    f.data(resp("PING"))
    return want + b"+PONG\r\n", r, "urg"


def c_fragments(f):
    # 40-byte fragments: the first holds the whole TCP header (32 bytes
    # with timestamps), so XDP can translate it
    m = f.mark()
    pkt = f.frame("PA", GET_A, df=False)
    pkt[IP].id = 4242
    f.send(fragment(pkt, fragsize=40))
    f.snd_nxt = (f.snd_nxt + len(GET_A)) & 0xffffffff
    f.settle()
    f.ack()
    r = f.since(m)
    f.data(resp("SET", "h:z", "zulu"))
    f.data(GET_A)
    return bulk(VAL_A) + b"+OK\r\n" + bulk(VAL_A), r, "reply"


def c_tiny_fragments(f):
    # 16-byte fragments (RFC 1858's tiny fragments): the TCP checksum is
    # in the second one, the first cannot be translated in place and is
    # dropped; the sender's retransmission, whole, is answered
    m = f.mark()
    pkt = f.frame("PA", GET_A, df=False)
    pkt[IP].id = 4243
    f.send(fragment(pkt, fragsize=16))
    f.settle()
    r = f.since(m)
    f.data(GET_A)
    f.data(resp("SET", "h:z", "zulu"))
    f.data(GET_A)
    # (mode off: the kernel answers the fragments and drops the resend as
    # old, so the stream is the same bytes either way)
    return bulk(VAL_A) + b"+OK\r\n" + bulk(VAL_A), r, "reply"


def c_after_quit(f):
    f.data(resp("QUIT"))
    time.sleep(0.2)
    m = f.mark()
    f.send(f.frame("PA", GET_A))
    f.settle()
    r = f.since(m)
    return b"+OK\r\n", r, "nodata"


def c_quit_then_get(f):
    # QUIT and a GET right behind it, before the server's +OK and FIN:
    # Redis closes after QUIT and never reads the GET
    f.data(resp("QUIT"), settle=False)
    m = f.mark()
    f.send(f.frame("PA", GET_A))
    f.snd_nxt = (f.snd_nxt + len(GET_A)) & 0xffffffff
    f.settle()
    r = f.since(m)
    return b"+OK\r\n", r, "quit"


def c_cross_db(f):
    # h:db holds different values in db 0 and db 1, set on a plain
    # connection through the veth (XDP sees both SETs, so the key is
    # cold in the cache whatever it held). A connection that SELECTed db 1
    # misses on it: Redis's reply is db 1's value and must not fill the
    # shared cache, which serves db 0 (pcaps/select_fill offline).
    set_up = redis_says(resp("SET", "h:db", DB0_VAL) + resp("SELECT", "1") +
                        resp("SET", "h:db", DB1_VAL))
    if set_up != b"+OK\r\n" * 3:
        f.why.append(f"set-up of h:db in db 0 and db 1: {set_up!r}")
    f.data(resp("SELECT", "1"))
    m = f.mark()
    f.data(GET_DB)                               # a miss, on db 1
    r = f.since(m)
    time.sleep(0.1)
    got = fresh_get("h:db")                      # db 0, through XDP
    if got != bulk(DB0_VAL):
        f.why.append(f"a db-0 connection got {got!r} after a db-1 miss (want db 0's value)")
    # That GET missed and filled (guarded, retrans): h:db is now cached for
    # db 0. The SELECTed connection must still get db 1's value from Redis.
    again = []
    cached = at_xdp(f, "a db-0 GET of h:db after a db-0 miss",
                    lambda: again.append(fresh_get("h:db")))
    f.info.update(db0_get=got.decode("latin1"), db0_cached=cached)
    if again[0] != bulk(DB0_VAL):
        f.why.append(f"a second db-0 connection got {again[0]!r}")
    f.data(GET_DB)                               # cached for db 0; on db 1
    return b"+OK\r\n" + bulk(DB1_VAL) + bulk(DB1_VAL), r, "reply"


def c_reject(payload):
    """A GET of the cached h:a in a shape Redis's parser rejects (a
    protocol error and a close) or reads otherwise (a CR before '*' makes
    it an inline command): never answered from the cache, the client gets
    exactly what Redis sends. What Redis sends is asked afterwards, behind
    a PING in the same segment, which XDP never answers, on a plain
    connection: so a parser that wrongly accepted the shape would not
    answer that one too and make the two agree."""
    def case(f):
        fresh_get("h:a")
        at_xdp(f, "a GET of h:a just before", lambda: f.data(GET_A))
        m = f.mark()
        f.data(payload)
        r = f.since(m)
        says, closed = redis_says(resp("PING") + payload, closed=True)
        if not says.startswith(b"+PONG\r\n"):
            f.why.append(f"Redis's reply on a plain connection: {says!r}")
        want = bulk(VAL_A) + says[len(b"+PONG\r\n"):]
        f.info.update(redis_closes=closed)
        if not closed:                           # the stream goes on in step
            f.data(GET_A)
            want += bulk(VAL_A)
        return want, r, "reply"
    return case


def c_first_window(f):
    # Window scaling negotiated both ways and the first segment after the
    # handshake a GET XDP answers: the reply's window field is read by the
    # client as scaled by the server's shift. It must be what the kernel
    # would advertise, i.e. about its own window on its next segment (the
    # PING's reply). The SYN-ACK's field is never scaled (RFC 7323 2.2):
    # copied raw into the reply (65160, read with Linux's shift of 7 as
    # 8.3 MB, with 10 as 66 MB) it offers the client 128 or 1024 times
    # the buffer the kernel has.
    fresh_get("h:a")
    f.open(wscale=7)
    ws = next((o[1] for o in f.synack.options if o[0] == "WScale"), None)
    m = f.mark()
    xdp = at_xdp(f, "the first GET", lambda: f.data(GET_A))
    first = next((t for t in f.server()[m:] if len(t.payload)), None)
    if first is None:
        raise RuntimeError("no reply to the first GET")
    m = f.mark()
    f.data(resp("PING"))
    kern = next((t for t in f.server()[m:] if len(t.payload)), None)
    if ws is None or not ws:
        f.why.append(f"the server did not scale its window (WScale {ws}): nothing checked")
        ws = ws or 0
    mine = first.window << ws
    f.info.update(wscale_srv=ws, synack_window=f.synack.window, first_window=first.window,
                  first_bytes=mine, answered_at="xdp" if xdp else "redis")
    if kern is None:
        f.why.append("no reply to the PING")
    else:
        theirs = kern.window << ws
        f.info.update(kernel_window=kern.window, kernel_bytes=theirs)
        if not theirs or mine > 2 * theirs or theirs > 2 * mine:
            f.why.append(f"first reply offers {mine} bytes, the kernel next {theirs}: "
                         "more than 2x apart")
    # before the kernel's first ACK it has no window beyond its SYN-ACK's
    if mine > 2 * f.synack.window:
        f.why.append(f"first reply offers {mine} bytes, the SYN-ACK {f.synack.window}")
    return b"+PONG\r\n", (0, 0, 0), "reply"


c_first_window.opens = True      # its own handshake, its first GET the hit


CASES = {
    "bad_checksum": (c_bad_checksum, "a GET with a bad TCP checksum: dropped, its valid retransmission answered"),
    "corrupt_set": (c_corrupt_set, "a SET corrupted in flight (bad checksum), its valid retransmission, then GETs: the new value"),
    "ack_unsent": (c_ack_unsent, "a GET whose ACK covers unsent data: dropped, not answered"),
    "paws": (c_paws, "a GET with a PAWS-failing TSval: dropped, not answered"),
    "rst_out_of_window": (c_rst_out_of_window, "an out-of-window RST: ignored, the flow keeps its place"),
    "rst_in_window": (c_rst_in_window, "an in-window RST with the wrong seq: challenge ACK, flow kept"),
    "syn_again": (c_syn_again, "a retransmitted copy of the original SYN: challenge ACK, flow kept"),
    "urg": (c_urg, "a GET with URG: the urgent byte leaves the stream, Redis's reply to the rest"),
    "fragments": (c_fragments, "a GET sent as IP fragments: reassembled and answered in place"),
    "tiny_fragments": (c_tiny_fragments, "a GET in tiny fragments (TCP header split): dropped, its whole retransmission answered"),
    "after_quit": (c_after_quit, "a GET after QUIT's +OK: never answered"),
    "quit_then_get": (c_quit_then_get, "a GET right behind QUIT, before its +OK: never answered"),
    "cross_db": (c_cross_db, "a GET missed after SELECT 1: db 1's value, no fill; db 0 then gets its own; "
                 "db 0's cached value never answers db 1"),
    # GET_A = *2\r\n$3\r\nGET\r\n$3\r\nh:a\r\n, in shapes Redis 7.0 refuses
    "reject_cr": (c_reject(b"\r" + GET_A), "a CR before '*' (Redis: inline): not answered, Redis's replies"),
    "reject_count0": (c_reject(b"*02" + GET_A[2:]), "a count with a leading zero (*02): Redis's protocol error, not answered"),
    "reject_len0": (c_reject(GET_A[:4] + b"$03" + GET_A[6:]), "a length with a leading zero ($03): Redis's protocol error, not answered"),
    "reject_empty": (c_reject(b"*\r\n" + GET_A), "an empty count (*\\r\\n) before a GET: Redis's protocol error, not answered"),
    "overlap_set": (c_overlap_set, "a GET received, then retransmitted with a SET merged behind it: "
                    "the GET answered once, then the SET"),
    "overlap_gets": (c_overlap_gets, "a GET received, then retransmitted with another GET merged behind it: "
                     "each answered once"),
    "overlap_mid": (c_overlap_mid, "a retransmission starting inside a received GET, a new GET behind it: "
                    "the new GET answered once, the stream keeps its place"),
    "first_window": (c_first_window, "the first reply after a window-scaled handshake, answered at XDP: the kernel's window"),
}

for i, name in enumerate(a.cases or CASES):
    fn, desc = CASES[name]
    f = Flow(a.base_port + i)
    res = {"case": name, "desc": desc}
    try:
        if not getattr(fn, "opens", False):
            f.open()
            f.data(GET_A)                  # answered at XDP: the flow has an offset
        want, (data, pure, rst), expect = fn(f)
        time.sleep(0.3)
        got, conflict, extra, _ = f.stream()
        want = bulk(VAL_A) + want
        why = list(f.why)
        if conflict or extra:
            why.append("conflicting or shifted bytes" if conflict else "bytes after a hole")
        if got != want:
            why.append(f"stream {got!r} != {want!r}")
        if expect == "nodata" and data:
            why.append(f"{data} bytes answered to the hostile segment")
        if expect == "challenge" and (data or not pure):
            why.append(f"no challenge ACK (data {data}, pure ACKs {pure})")
        res.update(ok=not why, why="; ".join(why), hostile_data=data, hostile_acks=pure,
                   hostile_rsts=rst, received=len(got), expected=len(want))
        if f.info:
            res["info"] = f.info
    except Exception as e:  # noqa: BLE001 - one case's failure is its TAP line
        res.update(ok=False, why=f"{type(e).__name__}: {e}")
    finally:
        # close: an RST from us (the kernel's are dropped), so Redis frees it
        try:
            f.send(f.frame("R", seq=f.snd_nxt))
        except Exception:  # noqa: BLE001
            pass
        f.close()
    print(json.dumps(res), flush=True)
