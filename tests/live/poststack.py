#!/usr/bin/python3
"""poststack.py - Redis's behaviour through redis-py and raw sockets with
prestack in poststack mode, each step's counters asserted exactly (read
straight from the pinned ps_stats). Runs in the host namespace: the client
connections are opened in the client's, Redis's own INFO commandstats is
read on a loopback connection in the server's (loopback sockets are not in
the post-stack path). Prints TAP lines (no plan: the caller counts them).

usage: poststack.py HOST PORT PIN_DIR SRV_NETNS CLI_NETNS PRESTACK
"""
import os
import socket
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pylib"))
from prestack_lib.bpfmap import Counters  # noqa: E402
from prestack_lib.netns import in_netns  # noqa: E402

HOST, PORT, PIN, SRV_NS, CLI_NS, PS = sys.argv[1:7]
PORT = int(PORT)
ctr = Counters(PIN)
# the post-stack counters, and the side path's invalidations (it sees the
# writes first: XDP follows no connection in poststack mode)
NAMES = [n for n in ctr.names if n.startswith("post_") or n == "side_invalidations"]


def side_client():
    c = redis.Redis(host="127.0.0.1", port=PORT, single_connection_client=True)
    c.ping()
    return c


side = in_netns(SRV_NS, side_client)
n_fail = 0
prev = ctr.read(NAMES)


def get_calls():
    return side.info("commandstats").get("cmdstat_get", {}).get("calls", 0)


def delta():
    """counters moved since the last call, by name"""
    global prev
    cur = ctr.read(NAMES)
    d = {k: cur[k] - prev[k] for k in cur if cur[k] != prev[k]}
    prev = cur
    return d


def ok(cond, what, info=""):
    global n_fail
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        n_fail += 1
        print(f"#   {info}")


def step(what, fn, want_reply, want_ctr, want_gets, fills=None):
    """fn()'s reply (run in the client namespace: a pipeline may open a
    connection), the counters and Redis's GET calls, each exact.
    want_ctr: counters that must move and by how much; post_skbs,
    post_replies and post_reply_bytes may move without being named. fills
    (when given): the fill counters are not named but must add up to it
    (whether a key whose TTL just changed is stored depends on when the
    watcher has learnt the TTL)."""
    delta()
    g0 = get_calls()
    got = in_netns(CLI_NS, fn)
    time.sleep(0.05)  # sk_msg counts Redis's reply as it is sent
    d = delta()
    # the loopback INFO connection is not in the post-stack path
    g = get_calls() - g0
    loose = {"post_skbs", "post_replies", "post_reply_bytes"}
    if fills is not None:
        loose |= {"post_fills", "post_fill_skipped"}
    moved = {k: v for k, v in d.items() if k not in loose}
    f = d.get("post_fills", 0) + d.get("post_fill_skipped", 0)
    good = (got == want_reply and moved == want_ctr and g == want_gets and
            (fills is None or f == fills))
    ok(good, what, f"reply {got!r} want {want_reply!r}; counters {d} want {want_ctr}"
                   f"{'' if fills is None else f', {fills} fills'}; "
                   f"Redis GET calls {g} want {want_gets}")
    return d


side.flushall()
side.mset({"k1": "v1", "k2": "hello world", "k3": "12345", "big": "x" * 1000})


def warm():
    subprocess.run([PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", "--netns", SRV_NS],
                   check=True, stdout=subprocess.DEVNULL)


def client_sock():
    """a TCP connection from the client namespace, Nagle off"""
    s = in_netns(CLI_NS, lambda: socket.create_connection((HOST, PORT)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


warm()


def client():
    c = redis.Redis(host=HOST, port=PORT, single_connection_client=True, socket_timeout=5)
    c.ping()  # connected there, and stays there
    return c


r = in_netns(CLI_NS, client)
delta()
step("GET k1 answered by sk_skb, Redis's GET calls still", lambda: r.get("k1"), b"v1",
     {"post_hits": 1}, 0)
# a reply longer than its request (and than what earlier answers saved):
# the kernel's copied_seq would run ahead of rcv_nxt (docs/poststack.md)
step("GET big (1000 B, reply longer than the request) goes to Redis",
     lambda: r.get("big"), b"x" * 1000, {"post_pass_big": 1}, 1)
step("GET of an uncached key goes to Redis (miss; nil is not filled)", lambda: r.get("nokey"),
     None, {"post_pass_miss": 1, "post_fill_skipped": 1}, 1)
# writes are invalidated before sk_skb sees them: the side path on the
# attached interface follows the connections XDP does not (in poststack
# mode, all of them)
step("SET k1 invalidated (by the side path, before sk_skb)", lambda: r.set("k1", "new"), True,
     {"post_pass_other": 1, "side_invalidations": 1}, 0)
step("GET k1 after the SET: Redis's new value (miss, filled from the reply)",
     lambda: r.get("k1"), b"new", {"post_pass_miss": 1, "post_fills": 1}, 1)
step("GET k1 again: the filled value, answered by sk_skb", lambda: r.get("k1"), b"new",
     {"post_hits": 1}, 0)
step("DEL k2 invalidates", lambda: r.delete("k2"), 1,
     {"post_pass_other": 1, "side_invalidations": 1}, 0)
step("GET k2 after DEL: nil from Redis", lambda: r.get("k2"), None,
     {"post_pass_miss": 1, "post_fill_skipped": 1}, 1)
step("EXPIRE k3 invalidates", lambda: r.expire("k3", 100), True,
     {"post_pass_other": 1, "side_invalidations": 1}, 0)
step("GET k3 after EXPIRE: from Redis", lambda: r.get("k3"), b"12345",
     {"post_pass_miss": 1}, 1, fills=1)

# the first values again (through loopback: the watcher invalidates
# behind it), then the cache, for the pipelines
side.mset({"k1": "v1", "k2": "hello world", "k3": "12345"})
time.sleep(0.5)
warm()
delta()


def pipe(*cmds, tx=False):
    p = r.pipeline(transaction=tx)
    for c in cmds:
        p.get(c)
    return p.execute()


step("pipeline of 3 cached GETs in one skb: one answer of 3 replies",
     lambda: pipe("k1", "k2", "k3"), [b"v1", b"hello world", b"12345"],
     {"post_socks": 1, "post_hits": 3}, 0)  # (the pipeline's own connection)
step("pipeline miss + hit in one skb: all to Redis, in order",
     lambda: pipe("nokey", "k1"), [None, b"v1"], {"post_pass_miss": 1}, 2)
step("MULTI/EXEC of GETs goes to Redis (EXEC flushes the cache)",
     lambda: pipe("k1", "k2", tx=True), [b"v1", b"hello world"],
     {"post_pass_state": 1, "post_flushes": 1}, 2)
warm()


# raw socket: a miss that Redis answers late (BLPOP with a timeout), then a
# cached GET in a second skb while Redis still owes the first reply
def owed():
    s = client_sock()
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$6\r\nnolist\r\n$3\r\n0.2\r\n")
    time.sleep(0.05)
    s.sendall(b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n")
    want = b"*-1\r\n$2\r\nv1\r\n"
    got = b""
    s.settimeout(3)
    while len(got) < len(want):
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got


step("miss then hit in two skbs: the hit waits for Redis's reply (owed), order kept",
     owed, b"*-1\r\n$2\r\nv1\r\n",
     {"post_socks": 1, "post_pass_other": 1, "post_pass_owed": 1}, 1)


# back to back, without waiting: every reply in order whoever answered it
def interleave(n=200):
    s = client_sock()
    want = b""
    for i in range(n):
        if i % 3 == 0:
            s.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nnokey\r\n")
            want += b"$-1\r\n"
        else:
            s.sendall(b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n")
            want += b"$2\r\nv1\r\n"
    got = b""
    s.settimeout(5)
    while len(got) < len(want):
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got == want


delta()
g0 = get_calls()
res = interleave()
time.sleep(0.05)
d = delta()
g = get_calls() - g0
ok(res, "200 misses and hits sent back to back: every reply in order",
   f"counters {d}")
# TCP coalesces back-to-back sends: an skb may mix misses and hits, and is
# then Redis's whole; every GET is answered once, by one or the other (how
# many after the stack depends on the timing: the earlier steps prove hits)
answered = d.get("post_hits", 0)
ok(answered + g == 200,
   f"... every GET answered once: {answered} after the stack, {g} by Redis",
   f"counters {d}, Redis GET calls {g}")

# Redis's replies were counted by sk_msg: every reply Redis sent on this
# test's connections, and never one of ours
delta()
ok(r.ping() is True, "PING after it all: connection healthy")
time.sleep(0.05)
d = delta()
ok(d.get("post_replies") == 1 and d.get("post_skbs") == 1,
   "sk_msg counted exactly Redis's one reply (PONG), never an answer of ours",
   f"counters {d}")
sys.exit(1 if n_fail else 0)
