#!/usr/bin/python3
"""Offline replay of every pcaps/*.pcap scenario in every mode through
`prestack replay`: the verdict trace must equal the scenario's expected
one, and each exact-field check must hold. Also: the replay is
deterministic, the pcaps regenerate byte for byte, tshark reads them.
Prints TAP."""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib.outcome import classify, client_stream, replay, trace  # noqa: E402
from prestack_lib.testbed import PORT  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402


# fields of the frame the programs wrote, read from the output pcap (the
# CSV has seq/ack only): a check names one of these like a CSV column
OUT_FIELDS = {"window_out": lambda t: t.window, "flags_out": lambda t: str(t.flags)}


def out_field(rows, out, frame, field):
    """The field of input frame `frame`'s output frame: the output pcap
    holds every frame passed, sent or let through, in input order."""
    from scapy.all import TCP, rdpcap
    kept = [i for i, r in enumerate(rows)
            if (r["dir"] == "s2c" and r["verdict"] == "ok") or
            (r["dir"] != "s2c" and r["verdict"] in ("pass", "tx"))]
    if frame - 1 not in kept:
        return "(no output frame)"
    pkt = rdpcap(out)[kept.index(frame - 1)]
    return str(OUT_FIELDS[field](pkt[TCP])) if TCP in pkt else "(no TCP)"


def main():
    scenarios = sorted(glob.glob(os.path.join(TOP, "pcaps", "*.json")))
    tmp = tempfile.mkdtemp(prefix="ps-replay-")
    try:
        # the generators are deterministic: regenerate into tmp, compare
        env = dict(os.environ, PCAPS_OUT=tmp)
        regen_ok = True
        for js in scenarios:
            name = os.path.basename(js)[:-5]
            subprocess.run(["/usr/bin/python3", os.path.join(TOP, "pcaps", name + ".py")],
                           env=env, check=True, cwd=os.path.join(TOP, "pcaps"))
            a = open(os.path.join(TOP, "pcaps", name + ".pcap"), "rb").read()
            b = open(os.path.join(tmp, name + ".pcap"), "rb").read()
            regen_ok &= a == b
        ok(regen_ok and scenarios, f"{len(scenarios)} scenario pcaps regenerate byte for byte")
        bad = []
        for js in scenarios:
            p = js[:-5] + ".pcap"
            r = subprocess.run(["tshark", "-r", p, "-q"], capture_output=True, text=True)
            err = "\n".join(l for l in r.stderr.splitlines()
                            if "could be dangerous" not in l).strip()
            if r.returncode or err:
                bad.append(f"{os.path.basename(p)}: {err[:200]}")
        ok(not bad, "every pcap opens in tshark without errors", "\n".join(bad))

        for js in scenarios:
            meta = json.load(open(js))
            for mode, want in meta["expect"].items():
                rows, out, err = replay(meta, mode, tmp, f"{meta['name']}-{mode}")
                if rows is None:
                    ok(False, f"{meta['name']} [{mode}] replays", err)
                    continue
                got = trace(rows)
                want_c = want.replace(" ", "")
                diag = f"want {want_c}\ngot  {got}"
                for c in meta.get("checks", []):
                    if c["mode"] != mode:
                        continue
                    if c["field"] in OUT_FIELDS:
                        v = out_field(rows, out, c["frame"], c["field"])
                    else:
                        v = rows[c["frame"] - 1][c["field"]]
                    if str(c["value"]) != v:
                        got += "!"
                        diag += (f"\nframe {c['frame']} {c['field']} = {v}, want "
                                 f"{c['value']} ({c['why']})")
                ok(got == want_c, f"{meta['name']} [{mode}] verdicts {want}", diag)
                if mode in meta.get("offline", {}):
                    s, conflict, extra, rst = client_stream(out, meta["server_isn"], PORT)
                    outcome = classify(s, conflict, extra, rst, meta)
                    ok(outcome == meta["offline"][mode],
                       f"{meta['name']} [{mode}] the client receives: {meta['offline'][mode]}",
                       f"got {outcome}: {s!r}\nwant {meta['expected_stream']!r}")
                if mode == "guarded":
                    rows2, out2, _ = replay(meta, mode, tmp, f"{meta['name']}-again")
                    same = (rows2 is not None and
                            hashlib.sha256(open(out, "rb").read()).digest() ==
                            hashlib.sha256(open(out2, "rb").read()).digest())
                    ok(same, f"{meta['name']} [{mode}] replays to the same bytes twice")
    finally:
        subprocess.run(["rm", "-rf", tmp])
    done()


if __name__ == "__main__":
    print("# offline replay of the pcap suite")
    main()
