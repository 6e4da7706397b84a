#!/usr/bin/python3
"""csv_check.py - the results/ writers' shared rules, without root (TAP):

  - pylib's provenance: the columns date, machine, kernel, cpu, commit, in
    that order, first in every CSV written through csvio, and commit as
    git's short HEAD with +dirty or "none";
  - csvio.Run: a lost cell leaves the CSV that was there byte for byte,
    the measured rows go to the partial directory, the status is 1; no
    loss replaces the file;
  - `python3 -m prestack_lib.csvio save FILE -- CMD`: a failing CMD leaves
    FILE as it was;
  - renamed columns read from committed CSVs under the new names
    (xdp_get_hits -> answered, answered_by);
  - every experiment that writes a CSV goes through the helpers: none
    computes its own date, host, kernel, CPU or commit, none opens its
    own csv writer.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "pylib"))
from prestack_lib import csvio  # noqa: E402
from prestack_lib.provenance import COLUMNS, provenance, with_provenance  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402


def read(p):
    with open(p, "rb") as f:
        return f.read()


# the writers of results/ and the helper each must use
WRITERS = {
    "experiments/failures/run.py": "csvio",
    "experiments/replay_suite.py": "csvio",
    "experiments/where_to_answer.py": "csvio",
    "experiments/bench/realistic.py": "csvio",
    "experiments/bench/coherence_window.py": "csvio",
    "experiments/bench/e2e.py": "csvio",
    "experiments/bench/pipelined.py": "csvio",
    "experiments/bench/liveprof.py": "csvio",
    "experiments/bench/xdpfloor.py": "csvio",
    "experiments/bench/poststack_cost.py": "csvio",
    "experiments/bench/pktcost_ab.py": "csvio",
    "experiments/campaign/run.py": "csvio",
    "experiments/bench/run.sh": "prestack_lib.csvio",
    "experiments/where.sh": "prestack_lib.csvio",
    "experiments/bench/ceiling.sh": "prestack_lib.csvio",
    "experiments/replay-rate.sh": "prestack_lib.csvio",
}
# what only pylib/prestack_lib/provenance.py and csvio.py may do
OWN_PROVENANCE = [r"rev-parse\W+--short\W+HEAD", r"platform\.node\(\)", r"platform\.release\(\)", r"model name",
                  r"uname -r", r"csv\.DictWriter", r"csv\.writer\(", r"date -u"]


def main():
    meta = provenance()
    ok(list(meta) == list(COLUMNS) == ["date", "machine", "kernel", "cpu", "commit"],
       "provenance: date, machine, kernel, cpu, commit, in this order", str(list(meta)))
    ok(re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?|none", meta["commit"]) is not None,
       f"commit is a short hash, +dirty when the tree differs ({meta['commit']})")
    ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["date"]) is not None,
       f"date is UTC ISO 8601 ({meta['date']})")
    r = with_provenance([{"x": 1, "date": "2020-01-01T00:00:00Z", "kernel": ""}])[0]
    ok(list(r)[:6] == list(COLUMNS) + ["x"] and r["date"] == "2020-01-01T00:00:00Z"
       and r["kernel"] == meta["kernel"],
       "with_provenance: the columns first, a row's own date kept, an empty one filled", str(r))

    with tempfile.TemporaryDirectory(prefix="ps-csvcheck-") as tmp:
        csvio.PARTIAL_DIR = os.path.join(tmp, "partial")
        path = os.path.join(tmp, "res.csv")
        with open(path, "w") as f:
            f.write("scenario,mode,outcome\nold,old,correct\n")
        before = read(path)

        run = csvio.Run(path, who="csv_check")
        run.add({"scenario": "a", "mode": "m1", "outcome": "correct"})
        run.lose("a/m2", "the middlebox was not running (simulated)")
        rc = run.finish()
        ok(rc == 1, "Run: a lost cell -> status 1")
        ok(read(path) == before, "Run: a lost cell leaves the CSV that was there byte for byte")
        part = csvio.load(os.path.join(csvio.PARTIAL_DIR, "res.csv"))
        ok(len(part) == 1 and part[0]["mode"] == "m1",
           "Run: the measured row is in the partial directory", str(part))

        run = csvio.Run(path, who="csv_check")
        run.add({"scenario": "a", "mode": "m1", "outcome": "correct"})
        run.add({"scenario": "a", "mode": "m2", "outcome": "stall", "extra": 3})
        rc = run.finish()
        head = read(path).decode().splitlines()[0].split(",")
        ok(rc == 0 and head == list(COLUMNS) + ["scenario", "mode", "outcome", "extra"],
           "Run: nothing lost -> replaced, provenance first, every column", str(head))
        ok(not [f for f in os.listdir(tmp) if f.startswith(".res.csv.")],
           "no temporary file left beside it")

        env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "pylib"))
        before = read(path)
        p = subprocess.run([sys.executable, "-m", "prestack_lib.csvio", "save", path, "--",
                            "sh", "-c", "printf 'a,b\\n1,2\\n'; exit 3"],
                           env=env, capture_output=True, text=True)
        ok(p.returncode == 3 and read(path) == before,
           "csvio save: a failing command leaves the file and passes its status on",
           f"rc {p.returncode}: {p.stderr.strip()}")
        p = subprocess.run([sys.executable, "-m", "prestack_lib.csvio", "save", path, "--",
                            "printf", "kernel,a\\nk0,1\\n"], env=env, capture_output=True, text=True)
        rows = csvio.load(path)
        ok(p.returncode == 0 and list(rows[0])[:6] == list(COLUMNS) + ["a"]
           and rows[0]["kernel"] == meta["kernel"],
           "csvio save: the provenance columns replace the command's own", str(rows[:1]))
        csvio.append(path, [{"a": 2, "b": "new"}])
        rows = csvio.load(path)
        ok(len(rows) == 2 and rows[0]["b"] == "" and rows[1]["b"] == "new"
           and list(rows[0])[:5] == list(COLUMNS),
           "csvio append: old rows kept, a new column empty in them", str(rows))

    old = os.path.join(TOP, "results", "bench-realistic.csv")
    rows = csvio.load(old)
    mine = [r for r in rows if r.get("xdp_get_hits", "") != ""]
    ok(bool(mine) and all(r["answered"] == r["xdp_get_hits"] and
                          r["answered_by"] == ("" if r["mode"] == "redis" else
                                               "post" if r["mode"] == "poststack" else "xdp")
                          for r in mine),
       "committed bench-realistic.csv: xdp_get_hits read as answered, with answered_by",
       str([(r["mode"], r.get("answered"), r.get("answered_by")) for r in mine[:3]]))
    ok(csvio.col({"xdp_get_hits": "7"}, "answered", "xdp_get_hits") == "7"
       and csvio.col({"answered": "5", "xdp_get_hits": "7"}, "answered", "xdp_get_hits") == "5",
       "col(): the new name first, the old one otherwise")

    for rel, helper in WRITERS.items():
        src = open(os.path.join(TOP, rel)).read()
        own = [p for p in OWN_PROVENANCE if re.search(p, src)]
        ok(helper in src and not own,
           f"{rel}: writes through {helper}, no provenance or csv writer of its own",
           f"has its own: {own}" if own else f"does not use {helper}")
    # a writer not in the list above is caught here
    others = []
    for p in glob.glob(os.path.join(TOP, "experiments", "**", "*.*"), recursive=True):
        rel = os.path.relpath(p, TOP)
        if rel in WRITERS or not rel.endswith((".py", ".sh")) or rel.startswith("experiments/paper/"):
            continue
        if re.search(r"csv\.DictWriter|csv\.writer\(|>>\s*\"?\$csv|rev-parse --short", open(p).read()):
            others.append(rel)
    ok(not others, "no other experiment writes a CSV on its own", str(others))
    done()


if __name__ == "__main__":
    main()
