"""csvio.py - reading and writing results/ CSVs, the one way every
experiment does it.

  rows = load(path)                 # [] when the file does not exist;
                                    # renamed columns also under new names
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

from . import TOP, psstats
from .provenance import COLUMNS, fieldnames, with_provenance

PARTIAL_DIR = os.path.join(TOP, "build", "partial")


# columns renamed since committed CSVs were written: new name -> old names
RENAMED = {
    "kernel": ("host_kernel",),
    # GETs answered from the cache: bench/realistic.py called the count
    # xdp_get_hits, also in poststack mode where it held post_hits
    "answered": ("xdp_get_hits",),
}


def upgrade(row):
    """A row of an older CSV with the current column names added (the old
    ones kept): renamed columns, and answered_by where answered was
    xdp_get_hits (the path follows from the mode)."""
    for new, olds in RENAMED.items():
        if row.get(new, "") == "":
            for o in olds:
                if row.get(o, "") != "":
                    row[new] = row[o]
                    break
    if "answered_by" not in row and "xdp_get_hits" in row:
        row["answered_by"] = psstats.answered_by(row.get("mode", ""))
    return row


def load(path, upgrade_rows=True):
    """A CSV as a list of dicts; [] if the file is not there. Old files keep
    old column orders (read columns by name, never by position) and old
    names: upgrade() adds the current ones."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [upgrade(r) for r in rows] if upgrade_rows else rows


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
            if os.path.exists(self.partial_path()):      # an earlier run's
                os.unlink(self.partial_path())
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


def _read_csv_text(text):
    import io
    return list(csv.DictReader(io.StringIO(text)))


def main(argv):
    """python3 -m prestack_lib.csvio save|append FILE -- COMMAND [ARGS]:
    run COMMAND; only if it exits 0 with a CSV on stdout, FILE gets that
    CSV with the provenance columns first (a column of the same name in
    the command's output is replaced), replacing the file or appended to
    its rows. Otherwise FILE is left as it was and the status is nonzero."""
    import subprocess
    if len(argv) < 4 or argv[0] not in ("save", "append") or argv[2] != "--":
        print("usage: python3 -m prestack_lib.csvio save|append FILE -- COMMAND [ARGS]",
              file=sys.stderr)
        return 2
    how, path, cmd = argv[0], argv[1], argv[3:]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    rows = _read_csv_text(r.stdout) if r.returncode == 0 else []
    if r.returncode or not rows:
        why = f"exit {r.returncode}" if r.returncode else "no rows"
        print(f"csvio: {' '.join(cmd)}: {why}; {path} left as it was", file=sys.stderr)
        return r.returncode or 1
    # the helper's provenance wins over a column the command printed itself
    rows = [{k: v for k, v in x.items() if k not in COLUMNS} for x in rows]
    (save if how == "save" else append)(path, rows)
    print(f"{'wrote' if how == 'save' else 'appended to'} {path} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
