"""provenance.py - where and when a result was measured: the first columns of
every CSV in results/, in one order (COLUMNS):

  date      UTC start of the run, 2026-12-02T06:10:00Z
  machine   host name
  kernel    uname -r
  cpu       the first "model name" of /proc/cpuinfo
  commit    git's short HEAD, "+dirty" when tracked files outside results/
            differ from it (the code that ran is not the commit)

  meta = provenance()          # one dict per process: every row of a run
  row = {**meta, ...}          # gets the same date
  rows = with_provenance(rows) # the columns first, in COLUMNS order

Shell writers use the command line (the same values):

  python3 pylib/prestack_lib/provenance.py --stamp < body.csv > out.csv
      prepends the columns to a CSV on stdin (a column of the same name in
      the input is replaced)
  python3 pylib/prestack_lib/provenance.py --header | --row
"""
import csv
import datetime
import os
import platform
import subprocess
import sys

COLUMNS = ("date", "machine", "kernel", "cpu", "commit")

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_cached = None


def _git(*args):
    # safe.directory: experiments run as root in a tree another user owns
    r = subprocess.run(["git", "-c", "safe.directory=*", "-C", _TOP, *args],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode, r.stdout.strip()


def commit_id():
    """Short HEAD, with "+dirty" if tracked files (results/ aside) differ."""
    rc, head = _git("rev-parse", "--short", "HEAD")
    if rc or not head:
        return "none"
    rc, _ = _git("diff", "--quiet", "HEAD", "--", ".", ":(exclude)results")
    return head + ("+dirty" if rc == 1 else "")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def provenance(fresh=False):
    """The COLUMNS of this run, computed once per process (fresh=True: again)."""
    global _cached
    if _cached is None or fresh:
        _cached = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": platform.node(),
            "kernel": platform.release(),
            "cpu": cpu_model(),
            "commit": commit_id(),
        }
    return dict(_cached)


def with_provenance(rows, meta=None):
    """rows with the provenance columns first, in COLUMNS order; a row that
    already has a value (e.g. a date per repetition) keeps it."""
    meta = meta or provenance()
    out = []
    for r in rows:
        o = {k: r[k] if r.get(k) not in (None, "") else meta[k] for k in COLUMNS}
        o.update((k, v) for k, v in r.items() if k not in COLUMNS)
        out.append(o)
    return out


def fieldnames(rows):
    """Every key of rows, provenance first, then in order of appearance."""
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    for r in rows:
        keys += [k for k in r if k not in keys]
    return keys


def _stamp(inp, out):
    rd = csv.reader(inp)
    w = csv.writer(out, lineterminator="\n")
    meta = provenance()
    head = next(rd, None)
    if head is None:
        return 1
    keep = [i for i, k in enumerate(head) if k not in COLUMNS]
    w.writerow(list(COLUMNS) + [head[i] for i in keep])
    for rec in rd:
        w.writerow([meta[k] for k in COLUMNS] + [rec[i] for i in keep if i < len(rec)])
    return 0


def main(argv):
    if argv == ["--header"]:
        print(",".join(COLUMNS))
    elif argv == ["--row"]:
        meta = provenance()
        csv.writer(sys.stdout, lineterminator="\n").writerow([meta[k] for k in COLUMNS])
    elif argv == ["--stamp"]:
        return _stamp(sys.stdin, sys.stdout)
    else:
        print("usage: provenance.py --header | --row | --stamp <in.csv >out.csv",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
