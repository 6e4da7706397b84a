#!/usr/bin/python3
"""Keep-alive on pooled connections (issue class 6).

A redis-py ConnectionPool with TCP keep-alive on and short timers
(TCP_KEEPIDLE/KEEPINTVL/KEEPCNT). Every pooled connection's last request
before the idle period is a GET that XDP answers (it was filled by an
earlier miss), so the keep-alive probe that follows (seq = next - 1, no
data) is the first segment after an answered GET. The idle period is
longer than KEEPIDLE + KEEPINTVL * KEEPCNT: if the server's kernel does
not answer the probes, the client kernel kills the connection (ETIMEDOUT).

After the idle period: each pooled connection must still be open (no
socket error), answer GETs with the exact value, and the client
namespace's TcpExtTCPKeepAlive counter must have grown by at least one
probe per connection (so probes were sent at all). Prints one summary
line; exit 1 on any failure.
"""
import argparse
import os
import socket
import sys
import time

import redis

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--conns", type=int, default=4)
ap.add_argument("--idle", type=int, default=1, help="TCP_KEEPIDLE seconds")
ap.add_argument("--intvl", type=int, default=1, help="TCP_KEEPINTVL seconds")
ap.add_argument("--cnt", type=int, default=2, help="TCP_KEEPCNT")
ap.add_argument("--wait", type=float, default=6.0, help="idle seconds")
ap.add_argument("--rounds", type=int, default=2)
a = ap.parse_args()


def netstat(name):
    """A TcpExt counter of this namespace (/proc/net is per namespace)."""
    lines = open("/proc/net/netstat").read().splitlines()
    for h, v in zip(lines[::2], lines[1::2]):
        hk, vk = h.split(), v.split()
        if hk[0] == "TcpExt:":
            return int(dict(zip(hk[1:], vk[1:]))[name])
    raise KeyError(name)


pool = redis.ConnectionPool(
    host=a.host, port=a.port, socket_timeout=5, socket_keepalive=True,
    socket_keepalive_options={socket.TCP_KEEPIDLE: a.idle,
                              socket.TCP_KEEPINTVL: a.intvl,
                              socket.TCP_KEEPCNT: a.cnt})
conns = [pool.get_connection("GET") for _ in range(a.conns)]
for c in conns:
    c.connect()
keys = [f"ka:{i}" for i in range(a.conns)]
vals = {k: f"keepalive-value-{k}".encode() for k in keys}


def cmd(c, *args):
    c.send_command(*args)
    return c.read_response()


bad = []
probes = 0
dead = set()
for rnd in range(a.rounds):
    for i, (c, k) in enumerate(zip(conns, keys)):
        if i in dead:
            continue
        try:
            ok = cmd(c, "SET", k, vals[k]) == b"OK"
            # a miss (filled at TC egress), then answered GETs, the last before idling
            for _ in range(3):
                ok &= cmd(c, "GET", k) == vals[k]
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            bad.append(f"round {rnd} conn {i}: {type(e).__name__} {e} before idle")
            dead.add(i)
            continue
        if not ok:
            bad.append(f"round {rnd} conn {i}: wrong reply before idle")
    p0 = netstat("TCPKeepAlive")
    time.sleep(a.wait)
    probes += netstat("TCPKeepAlive") - p0
    for i, (c, k) in enumerate(zip(conns, keys)):
        if i in dead:
            continue
        err = c._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if c._sock else -1
        if err:
            bad.append(f"round {rnd} conn {i}: socket error {err} "
                       f"({os.strerror(err)}) after idle")
            dead.add(i)
            continue
        try:
            got = cmd(c, "GET", k)
            ok = got == vals[k] and cmd(c, "PING") == b"PONG"
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            bad.append(f"round {rnd} conn {i}: {type(e).__name__} {e} after idle")
            dead.add(i)
            continue
        if not ok:
            bad.append(f"round {rnd} conn {i}: after idle {got!r}")
want_probes = a.rounds * a.conns
print(f"conns={a.conns} rounds={a.rounds} idle={a.wait}s probes_sent={probes} "
      f"(want >= {want_probes}) failures={len(bad)}")
for b in bad[:10]:
    print(b)
sys.exit(1 if bad or probes < want_probes else 0)
