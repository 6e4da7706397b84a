"""csvio.py - reading and writing results/ CSVs, the one way every
experiment does it.

  rows = load(path)                 # [] when the file does not exist
  save(path, rows)                  # provenance columns first, atomically
  append(path, rows)                # the old rows + these, atomically
  col(row, "answered", "xdp_get_hits")   # a renamed column, old name too

The rule for a run that loses a cell (a cell that could not be measured:
a tool that died, a helper process gone, a timeout):

  run = Run(path)                   # one per output CSV
  run.add(row) / run.lose("scenario/mode", "why")
  sys.exit(run.finish())            # 0: written; 1: a cell lost

finish() writes the CSV only when no cell was lost. Otherwise the previous
file stays as it was, the rows measured go to build/partial/<name> (never
over the results), and the exit status is 1. A file is always written to a
temporary name beside it and renamed: an interrupted write leaves the old
file whole.
"""
import csv
import os
import sys
import tempfile

from . import TOP
from .provenance import COLUMNS, fieldnames, with_provenance

PARTIAL_DIR = os.path.join(TOP, "build", "partial")


def load(path):
    """A CSV as a list of dicts; [] if the file is not there. Old files keep
    old column orders: read columns by name, never by position."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def col(row, name, *old_names, default=""):
    """row[name], or the value under one of its former names (committed CSVs
    keep the names they were written with until they are re-run)."""
    for k in (name, *old_names):
        if k in row and row[k] not in (None, ""):
            return row[k]
    return default


def write_atomic(path, text):
    """Write text to path through a temporary file in the same directory."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=d)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def render(rows, stamp=True, keys=None):
    """CSV text of rows; stamp: with the provenance columns first."""
    import io
    if stamp:
        rows = with_provenance(rows)
    keys = keys or fieldnames(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def save(path, rows, stamp=True, keys=None):
    """Replace path by rows (provenance first unless stamp=False)."""
    if not rows:
        raise ValueError(f"{path}: no rows to write")
    write_atomic(path, render(rows, stamp, keys))


def append(path, rows, stamp=True):
    """path's rows and then these, rewritten at once: a column missing on
    one side is left empty, and the order is provenance first."""
    new = with_provenance(rows) if stamp else list(rows)
    old = load(path)
    both = old + new
    keys = [k for k in COLUMNS if any(k in r for r in both)]
    for r in both:
        keys += [k for k in r if k not in keys]
    write_atomic(path, render(both, stamp=False, keys=keys))


class Run:
    """The rows of one output CSV and the cells that were lost on the way."""

    def __init__(self, path, stamp=True, who=None):
        self.path, self.stamp = path, stamp
        self.who = who or os.path.basename(sys.argv[0])
        self.rows, self.lost = [], []

    def add(self, row):
        self.rows.append(row)

    def lose(self, cell, why, quiet=False):
        self.lost.append((cell, str(why)))
        if not quiet:
            print(f"{self.who}: lost {cell}: {why}", file=sys.stderr, flush=True)

    def partial_path(self):
        return os.path.join(PARTIAL_DIR, os.path.basename(self.path))

    def finish(self, keys=None):
        """Write the CSV if every cell is in; else keep the old one, put what
        was measured in build/partial/, say so; the exit status."""
        rel = os.path.relpath(self.path, TOP)
        if not self.lost and self.rows:
            save(self.path, self.rows, self.stamp, keys)
            print(f"{self.who}: wrote {rel} ({len(self.rows)} rows)")
            return 0
        if not self.rows:
            print(f"{self.who}: no rows measured; {rel} left as it was", file=sys.stderr)
            return 1
        part = self.partial_path()
        save(part, self.rows, self.stamp, keys)
        print(f"{self.who}: {len(self.lost)} cell(s) lost "
              f"({', '.join(c for c, _ in self.lost[:5])}{', ...' if len(self.lost) > 5 else ''});"
              f" {rel} left as it was, the {len(self.rows)} rows measured are in "
              f"{os.path.relpath(part, TOP)}", file=sys.stderr)
        return 1
