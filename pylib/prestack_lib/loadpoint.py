"""loadpoint.py - bench-pipelined's load points and what drives them on the
testbed, in one place for experiments/bench/pipelined.py, cutsoak.py and
liveprof.py:

  POINTS      name -> (pipeline, GET:SET, first key index, keyspace, generator)
  point_args  build/pipeload's arguments for a point
  run         a command; Lost when it fails (check=True)
  pipeload    build/pipeload in the client namespace against Redis over the
              veth: (its JSON, its stderr lines); Lost without JSON
  fresh       prestack detached, the testbed down and up again, every key
              set once by pipeload --prefill (and checked in Redis)
  teardown    every child stopped by PID, prestack detached, testbed down
  preflight   root, the build's files there, Ctrl-C and SIGTERM raised as
              KeyboardInterrupt (so that teardown runs)

Children are started through spawn() and remembered until they end, so
that teardown() stops exactly the processes this script started.
"""
import json
import os
import signal
import subprocess
import sys
import threading

from . import PS, TOP, cpuacct
from .testbed import IP_SRV, NS_CLI, NS_SRV, PORT, TGT

LOAD = os.path.join(TOP, "build", "pipeload")
TB = os.path.join(TOP, "experiments", "testbed.sh")

CONNS, THREADS, KEYS, VALUE, DIST = 50, 2, 10000, 64, "zipf"
MISS_OFFSET = 50_000_000           # "key:000050000000".. : never set
# name -> (pipeline, GET:SET, first key index, what the keys are, generator)
POINTS = {
    "mix-p1": (1, "10:1", 0, "prefilled", "pipeload"),
    "mix-p16": (16, "10:1", 0, "prefilled", "pipeload"),
    "get-p16": (16, "1:0", 0, "prefilled", "pipeload"),
    "miss-p16": (16, "1:0", MISS_OFFSET, "never set", "pipeload"),
    "rbench-get-p16": (16, "1:0", 0, "prefilled", "redis-benchmark"),
}

CHILDREN = []      # Popen objects still to stop by PID on the way out


class Lost(Exception):
    """A run (or a configuration's, or a repetition's runs) not measured."""


def run(*cmd, check=True, timeout=120):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode:
        first = ((r.stderr or r.stdout).strip() or "-").splitlines()[0][:300]
        raise Lost(f"{' '.join(cmd)}: exit {r.returncode}: {first}")
    return r


def spawn(cmd, **kw):
    """A child remembered until stop() ends it."""
    p = subprocess.Popen(cmd, **kw)
    CHILDREN.append(p)
    return p


def stop(p, sig=signal.SIGINT):
    """End a child started by spawn(): sig, then SIGKILL after 10 s."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in CHILDREN:
        CHILDREN.remove(p)


def point_args(name, seconds, seed):
    pipe, ratio, off, _, _ = POINTS[name]
    return ["-c", str(CONNS), "-t", str(THREADS), "-P", str(pipe), "--ratio", ratio,
            "--keys", str(KEYS), "--key-offset", str(off), "--dist", DIST, "-d", str(VALUE),
            "--seconds", str(seconds), "--seed", str(seed)]


def pipeload(args, seconds, on_wrong=None):
    """build/pipeload in the client namespace against Redis over the veth:
    (its JSON, its stderr lines). on_wrong() is called at its first
    wrong-reply line, while it runs. Lost when it gives no JSON."""
    cmd = ["ip", "netns", "exec", NS_CLI, LOAD, "--host", IP_SRV, "--port", str(PORT), *args]
    # `ip netns exec` execs pipeload: the child's PID is pipeload's own
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []

    def read_err():
        for line in p.stderr:
            err.append(line.rstrip("\n"))
            if on_wrong and line.startswith("pipeload: wrong"):
                on_wrong()
    t = threading.Thread(target=read_err, daemon=True)
    t.start()
    try:
        out = p.stdout.read()
        p.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise Lost(f"pipeload {' '.join(args)}: no result in {seconds + 60:.0f} s")
    finally:
        stop(p)
    t.join(timeout=5)
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Lost(f"pipeload {' '.join(args)}: exit {p.returncode}, no JSON: "
                   f"{' '.join(err)[-300:]}")
    return res, err


def detach():
    run(PS, "detach", *TGT, "--force", check=False)


def attach(args):
    run(PS, "attach", *TGT, *args)


def warm():
    """Every key into the cache again (`prestack cache warm`)."""
    run(PS, "cache", "warm", "--redis", f"127.0.0.1:{PORT}", *TGT)


def fresh():
    """prestack detached, the testbed down and up again, and every key set
    once over the veth (pipeload --prefill), with Redis holding exactly
    KEYS keys afterwards. Lost otherwise. Run under the live lock: a
    kernel.bpf_stats_enabled left on by a killed run (cpuacct.bpf_stats)
    is turned off, as nothing else measures now; on, it adds two clock
    reads to every run of our programs and none to Redis alone, so the
    ratios would lean against prestack unseen."""
    if open(cpuacct.SYSCTL).read().strip() != "0":
        print("kernel.bpf_stats_enabled was on (left by a killed run?): turned off",
              file=sys.stderr)
        with open(cpuacct.SYSCTL, "w") as f:
            f.write("0")
    detach()
    run(TB, "down", check=False)
    run(TB, "up")
    pre, _ = pipeload(["--prefill", "--keys", str(KEYS), "-d", str(VALUE), "-c", "8", "-t", "1",
                       "-P", "64"], 30)
    if pre.get("errors") or pre.get("sets") != KEYS:
        raise Lost(f"prefill: {pre.get('sets')} of {KEYS} SETs, {pre.get('errors')} errors")
    n = run("ip", "netns", "exec", NS_SRV, "redis-cli", "-h", "127.0.0.1", "-p", str(PORT),
            "dbsize").stdout.strip()
    if n != str(KEYS):
        raise Lost(f"prefill: Redis holds {n} keys, not {KEYS}")


def teardown():
    """Every child by PID, prestack detached, the testbed down; Ctrl-C and
    SIGTERM wait until this is done."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        for p in list(CHILDREN):
            stop(p)
        detach()
        run(TB, "down", check=False)
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


def preflight(who, *files):
    """Exit with who's message unless run as root with every file of the
    build there; then Ctrl-C and SIGTERM raise KeyboardInterrupt, also
    where the shell that started us had SIGINT ignored (a background job
    of a script)."""
    if os.geteuid():
        sys.exit(f"{who}: run as root")
    for f in files:
        if not os.access(f, os.R_OK):
            sys.exit(f"{who}: {os.path.relpath(f, TOP)} missing: run make first")

    def on_sig(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, on_sig)
    signal.signal(signal.SIGTERM, on_sig)
