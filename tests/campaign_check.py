#!/usr/bin/python3
"""campaign_check.py - the fault campaign's judges without a testbed (TAP):
experiments/campaign/pyclient.py's model (correct, stale, wrong, a write
whose outcome is unknown), run.py's fault draw (the same mix for a seed,
valid mbx rules), its reading of pipeload's JSON and its per-mode
summary. The live half is tests/live/test-campaign.sh."""
import importlib.util
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib.tap import done, ok  # noqa: E402


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(TOP, path))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


pc = load("pyclient", "experiments/campaign/pyclient.py")
run = load("campaign_run", "experiments/campaign/run.py")


def is_(got, want, what):
    ok(got == want, what, f"got {got!r}, want {want!r}")


class A:
    seed, tag, patience = 1, "t", 1.0


def worker():
    st = pc.Stats()
    return pc.Worker(A, st, 0), st


w, st = worker()
k = w.keys[0]
w.judge(("get", k, None), None)
is_((st.c["correct"], st.c["wrong"]), (1, 0), "an owned key starts absent: nil is correct")
w.judge(("set", k, b"v1"), True)
w.judge(("get", k, None), b"v1")
is_(st.c["correct"], 3, "SET OK then GET of the value: correct")
w.judge(("get", k, None), None)
is_(st.c["stale"], 1, "nil after the SET: stale (the key held it before)")
w.judge(("set", k, b"v2"), True)
w.judge(("get", k, None), b"v1")
is_(st.c["stale"], 2, "the overwritten value: stale")
w.judge(("get", k, None), b"v3")
is_(st.c["wrong"], 1, "a value never written: wrong")
w.judge(("get", pc.ro_key(5), None), pc.ro_value(5))
w.judge(("get", pc.ro_key(5), None), pc.ro_value(6))
is_((st.c["correct"], st.c["wrong"]), (5, 2), "read-only keys: their value correct, another wrong")
w.judge(("set", k, b"v4"), b"v2")
is_(st.c["wrong"], 3, "a SET answered with a bulk string (someone else's reply): wrong")
w.judge(("get", k, None), b"v4")
w.judge(("get", k, None), b"v2")
is_((st.c["correct"], st.c["wrong"]), (7, 3),
    "after a SET with a wrong reply, either value is accepted")
w.judge(("del", k, None), 0)
is_(st.c["wrong"], 4, "DEL of a present key answering 0: wrong")
w.failed([("del", k, None)], pc.redis.exceptions.TimeoutError("x"))
is_(st.c["stalls"], 1, "a timeout is a stall")
w.judge(("get", k, None), None)
is_(st.c["wrong"], 4, "after a stalled DEL, nil is possible")
w.failed([("get", k, None)], pc.redis.exceptions.ConnectionError("reset"))
is_(st.c["resets"], 1, "a connection error is a reset")
w.judge(("get", k, None), pc.redis.exceptions.InvalidResponse("Protocol error"))
is_(st.c["wrong"], 5, "an unparsable reply: wrong")
w.judge(("get", k, None), pc.redis.exceptions.ResponseError("ERR x"))
is_(st.c["errors"], 1, "an error reply: an error, not a verdict on the value")
is_(st.c["replies"], st.c["correct"] + st.c["stale"] + st.c["wrong"] - 1,
    "replies counts every reply judged (the unparsable one is not a reply)")
is_(len(pc.ro_value(7)), pc.SIZES[7], "read-only values have the sizes of SIZES")

r1, s1 = run.draw(7)
r2, s2 = run.draw(7)
is_((r1, s1), (r2, s2), "a seed draws the same mix and shape every time")
ok(run.draw(8) != (r1, s1), "another seed draws another")
mbx = os.path.join(TOP, "build", "mbx")
seen = set()
for seed in range(1, 41):
    rules, _ = run.draw(seed)
    seen |= {r.split("action=")[1].split(",")[0] for r in rules}
    args = [x for r in rules for x in ("--rule", r)]
    # the rules parse: only the interfaces are missing (exit 2 on a bad rule too,
    # but with "bad rule" on stderr)
    p = subprocess.run([mbx, "--a", "ps-none-a", "--b", "ps-none-b", *args],
                       capture_output=True, text=True)
    if "bad rule" in p.stderr or "bad option" in p.stderr:
        ok(False, f"seed {seed}: mbx refuses its rules: {p.stderr.strip()}")
        break
else:
    ok(True, "40 seeds' rules all parse in build/mbx")
is_(seen, set(run.MBX_ACTIONS), "40 seeds draw every fault kind")

pl = run.judge_pipeload('{"ops":100,"get_wrong":2,"get_nulls":1,"errors":3,"conns_failed":1,'
                        '"conns":4,"max_us":2500}\n')
is_((pl["replies"], pl["wrong"], pl["correct"], pl["errors"], pl["resets"]), (100, 3, 94, 3, 1),
    "pipeload: a nil of a prefilled key is wrong; failed connections are resets")

rows = [{"seed": s, "mode": m, "client": c, "secs": 10, "replies": 100, "wrong": int(s == 2 and c == "b"),
         "stale": 0, "errors": 0, "stalls": 0, "resets": 0, "unchecked": 0, "connections": 1,
         "get_hits": 5} for s in (1, 2) for m in ("guarded", "off") for c in ("a", "b")]
sm = {r["mode"]: r for r in run.summarize(rows, ["guarded", "off"])}
is_((sm["guarded"]["replies"], sm["guarded"]["wrong"], sm["guarded"]["wrong_cells"]),
    (400, 1, "2/b"), "summary: totals per mode and the seed/client of a wrong reply")
is_((sm["guarded"]["seconds"], sm["guarded"]["replies_per_s"], sm["guarded"]["answered"]),
    (20, 20.0, 10), "summary: seconds and answers counted once per cell, not per client")
is_(run.seeds_of("1-3,7"), [1, 2, 3, 7], "--seeds ranges and lists")
done()
