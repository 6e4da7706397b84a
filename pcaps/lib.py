"""Build deterministic scenario pcaps of one Redis connection as seen at the
server's interface: client -> server frames in the client's sequence space,
server -> client frames as the kernel sends them (the kernel's space, before
prestack's TC egress translates them).

A scenario tracks both spaces: `c` the client's next seq, `sv` the server
seq the client expects next (kernel bytes + bytes injected at XDP), `k` the
kernel's next seq and `kack` the client bytes the kernel has received.
Nothing here is random and every timestamp is fixed: the same script writes
the same bytes."""
import json
import os
import sys

from scapy.all import IP, TCP, Ether, Raw, wrpcap  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from prestack_lib.testbed import IP_CLI, IP_SRV, PORT  # noqa: E402

CLI_MAC, SRV_MAC = "02:00:00:00:00:02", "02:00:00:00:00:01"
T0 = 1700000000.0


def resp(*args):
    """A RESP command: resp("GET", "foo")."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def bulk(v):
    if v is None:
        return b"$-1\r\n"
    v = v.encode() if isinstance(v, str) else v
    return b"$%d\r\n%s\r\n" % (len(v), v)


class Conv:
    def __init__(self, ts=True, cport=40000, cisn=1000000, sisn=5000000,
                 mss=1460, cwin=502, wscale=7):
        self.ts, self.cport, self.mss, self.cwin, self.wscale = ts, cport, mss, cwin, wscale
        self.frames = []
        self.t = T0
        self.c, self.k = cisn, sisn
        self.sv, self.kack = sisn, cisn
        self.ctsv, self.stsv = 100, 7000
        self.ipid = 1
        self.isn_s = sisn
        self.expected = b""     # what the client must receive, in order
        self.stale = []         # cached values that would be stale if served

    # -- frames --------------------------------------------------------
    def _tick(self, ms=1):
        self.t += ms / 1000.0

    def _opts(self, tsval, tsecr, extra=()):
        o = list(extra)
        if self.ts:
            o += [("NOP", None), ("NOP", None), ("Timestamp", (tsval, tsecr))]
        return o

    def c2s(self, payload=b"", flags="PA", seq=None, ack=None, window=None,
            opts=None, advance=True, ms=1):
        """A client segment; advances the client's seq unless told not."""
        self._tick(ms)
        self.ctsv += 1
        s = self.c if seq is None else seq
        p = (Ether(src=CLI_MAC, dst=SRV_MAC) /
             IP(src=IP_CLI, dst=IP_SRV, id=self.ipid, flags="DF") /
             TCP(sport=self.cport, dport=PORT, seq=s,
                 ack=self.sv if ack is None else ack, flags=flags,
                 window=self.cwin if window is None else window,
                 options=opts if opts is not None else self._opts(self.ctsv, self.stsv)))
        if payload:
            p = p / Raw(payload)
        p.time = self.t
        self.ipid += 1
        self.frames.append(p)
        if advance and seq is None:
            self.c += len(payload) + (1 if "F" in flags or "S" in flags else 0)
        return p

    def s2c(self, payload=b"", flags="PA", seq=None, ack=None, advance=True,
            ms=1):
        """A kernel segment (kernel space)."""
        self._tick(ms)
        self.stsv += 1
        s = self.k if seq is None else seq
        p = (Ether(src=SRV_MAC, dst=CLI_MAC) /
             IP(src=IP_SRV, dst=IP_CLI, id=0, flags="DF") /
             TCP(sport=PORT, dport=self.cport, seq=s,
                 ack=self.kack if ack is None else ack, flags=flags,
                 window=509, options=self._opts(self.stsv, self.ctsv)))
        if payload:
            p = p / Raw(payload)
        p.time = self.t
        self.frames.append(p)
        if advance and seq is None:
            n = len(payload) + (1 if "F" in flags or "S" in flags else 0)
            self.k += n
            self.sv += n
            self.expected += payload
        return p

    # -- steps -----------------------------------------------------------
    def handshake(self):
        syn_opts = [("MSS", self.mss), ("SAckOK", b"")]
        if self.ts:
            syn_opts += [("Timestamp", (self.ctsv, 0))]
        syn_opts += [("NOP", None), ("WScale", self.wscale)]
        self.c2s(flags="S", opts=syn_opts, ack=0)
        self.kack = self.c
        sa = [("MSS", 1460), ("SAckOK", b"")]
        if self.ts:
            sa += [("Timestamp", (self.stsv, self.ctsv))]
        sa += [("NOP", None), ("WScale", 7)]
        self._tick()
        p = (Ether(src=SRV_MAC, dst=CLI_MAC) /
             IP(src=IP_SRV, dst=IP_CLI, id=0, flags="DF") /
             TCP(sport=PORT, dport=self.cport, seq=self.k, ack=self.kack,
                 flags="SA", window=65160, options=sa))
        p.time = self.t
        self.frames.append(p)
        self.k += 1
        self.sv += 1
        self.c2s(flags="A")

    def hit(self, payload, reply):
        """The client sends what prestack answers (the kernel never sees it)."""
        p = self.c2s(payload)
        self.sv += len(reply)
        self.expected += reply
        return p

    def to_kernel(self, payload, reply=None, flags="PA"):
        """The client sends what reaches the kernel; Redis replies."""
        p = self.c2s(payload, flags=flags)
        self.kack += len(payload)
        if reply is not None:
            self.s2c(reply)
        return p

    def cut(self, payload, kept):
        """The client sends a segment some GETs are cut from (guarded,
        retrans: xdp/cut.h): the kernel gets `kept` only."""
        p = self.c2s(payload)
        self.kack += len(kept)
        return p

    def s2c_runs(self, payload, stream, **kw):
        """A kernel segment into which the runs of cut GETs go: the client
        receives `stream` (the kernel's bytes with the runs inserted)."""
        p = self.s2c(payload, advance=False, **kw)
        self.k += len(payload)
        self.sv += len(stream)
        self.expected += stream
        return p

    def write(self, name, description, cache, expect, live=None, checks=None,
              offline=None):
        """pcaps/<name>.pcap and pcaps/<name>.json (expected verdicts: one
        letter a frame, c2s P pass / T reply / D drop, s2c O; checks: exact
        output fields of single frames, {"frame": n (1-based), "mode": m,
        "field": "seq_out"|"ack_out"|"sack_out" (edges "l-r;l-r"), "value": v,
        "why": text}; offline: {mode: what the client receives in the offline
        replay, "correct" ...}, checked by tests/replay_check.py)."""
        here = os.environ.get("PCAPS_OUT") or os.path.dirname(os.path.abspath(__file__))
        for mode, trace in expect.items():
            if len(trace.replace(" ", "")) != len(self.frames):
                sys.exit(f"{name}: {mode} trace has {len(trace.replace(' ', ''))} "
                         f"verdicts for {len(self.frames)} frames")
        wrpcap(os.path.join(here, name + ".pcap"), self.frames)
        meta = {"name": name, "description": description, "cache": cache,
                "frames": len(self.frames), "expect": expect,
                "live": live or {}, "checks": checks or [],
                "offline": offline or {},
                "expected_stream": self.expected.decode("latin1"),
                "server_isn": self.isn_s, "stale_values": self.stale}
        with open(os.path.join(here, name + ".json"), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
