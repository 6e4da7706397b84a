"""freshness.py - is every CSV the paper reads newer than the code it measures?

A row is fresh when the last commit that changed the code it measures (xdp/,
ctl/ and the CSV's writers, gen.WRITERS) is an ancestor of the commit the
row was measured at (its `commit` column, `+dirty` stripped: a dirty tree is
judged by the commit it was based on). Anything else is stale: an older
commit, a commit on a branch that forked before the change, or a commit
this clone does not have (a squashed branch, `none`, `?`).

A stale CSV may stay in the paper as historical only when gen.HISTORICAL
declares it and the paper says so beside every use (historical_uses()):
  - every generated table whose source line names the CSV carries
    "historical: measured at <commit>" for each stale commit (gen.py's
    Out.note writes it);
  - every paragraph of paper/*.tex that quotes a number from the CSV, and
    every figure environment that includes a plot drawn from it, carries
    \\Historical{<name>} (<name>: the file name without .csv), and the
    generated definition of that marker names each stale commit.

Used by tests/paper_check.py --freshness; tests/freshness_check.py holds the
logic to account on a synthetic repository. Needs the full history: a
shallow clone raises FreshnessError (git fetch --unshallow).
"""
import os
import re
import subprocess

# the code every result measures, besides its own writers
CODE_PATHS = ["xdp", "ctl"]


class FreshnessError(Exception):
    """The check cannot be made (no git, a shallow clone): not a verdict."""


def git(top, *args, check=True):
    try:
        r = subprocess.run(["git", "-C", top, *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise FreshnessError(f"git {' '.join(args)}: {e}")
    if check and r.returncode:
        raise FreshnessError(f"git {' '.join(args)}: {r.stderr.strip() or 'exit %d' % r.returncode}")
    return r


class Repo:
    def __init__(self, top):
        self.top = top
        if git(top, "rev-parse", "--is-inside-work-tree", check=False).stdout.strip() != "true":
            raise FreshnessError(f"{top}: not a git checkout (the check reads the history)")
        if git(top, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            raise FreshnessError(
                f"{top}: shallow clone; the check needs the full history to place each "
                "row's commit: run `git fetch --unshallow` (in CI: clone without --depth)")
        self._resolved = {}

    def resolve(self, commit):
        """Full hash of a row's commit, None if this clone does not have it."""
        if commit not in self._resolved:
            ok = re.fullmatch(r"[0-9a-fA-F]{4,40}", commit or "")
            r = git(self.top, "rev-parse", "--verify", "--quiet", commit + "^{commit}", check=False) \
                if ok else None
            self._resolved[commit] = r.stdout.strip() if r is not None and r.returncode == 0 else None
        return self._resolved[commit]

    def last_change(self, paths):
        """The newest commit reachable from HEAD that changed any of paths."""
        out = git(self.top, "log", "-1", "--format=%H", "HEAD", "--", *paths).stdout.strip()
        return out or None

    def is_ancestor(self, a, b):
        return git(self.top, "merge-base", "--is-ancestor", a, b, check=False).returncode == 0

    def changes_since(self, commit, paths):
        """Commits on HEAD that commit lacks and that change paths, oldest first."""
        rng = f"{commit}..HEAD" if commit else "HEAD"
        out = git(self.top, "rev-list", "--reverse", rng, "--", *paths).stdout.split()
        return out

    def touched(self, commit, paths):
        out = git(self.top, "diff-tree", "--no-commit-id", "--name-only", "-r", "-m", "--root",
                  commit, "--", *paths).stdout.split()
        return sorted(set(out))

    def short(self, commit):
        return git(self.top, "rev-parse", "--short", commit).stdout.strip()


def split_commit(value):
    """'abc1234+dirty' -> ('abc1234', True); '' -> ('', False)."""
    value = (value or "").strip()
    if value.endswith("+dirty"):
        return value[:-len("+dirty")], True
    return value, False


def watched(writers, code_paths=CODE_PATHS):
    return list(code_paths) + list(writers)


def check_csv(repo, csv_path, rows, writers, code_paths=CODE_PATHS):
    """One verdict per distinct commit among rows:
    {csv, commit, dirty, rows, state: fresh|stale|unknown, last_change,
     stale_by (first commit after it that changed the code), changes (how
     many), touched (what that first commit changed), writers}."""
    paths = watched(writers, code_paths)
    last = repo.last_change(paths)
    groups = {}
    for r in rows:
        groups.setdefault(r.get("commit", ""), []).append(r)
    out = []
    for value, rs in groups.items():
        base, dirty = split_commit(value)
        v = {"csv": csv_path, "commit": value or "(none)", "base": base, "dirty": dirty, "rows": len(rs),
             "writers": list(writers), "last_change": last, "stale_by": None, "changes": 0, "touched": []}
        full = repo.resolve(base) if base else None
        if last is None:
            v["state"] = "fresh"            # nothing it measures was ever committed
        elif full is None:
            v["state"] = "unknown"
            v["stale_by"] = last
        elif repo.is_ancestor(last, full):
            v["state"] = "fresh"
        else:
            v["state"] = "stale"
            later = repo.changes_since(full, paths)
            v["stale_by"] = later[0] if later else last
            v["changes"] = len(later)
            v["touched"] = repo.touched(v["stale_by"], paths)
        out.append(v)
    return out


# ------------------------------------------------------------ historical
def marker_name(csv_path):
    """\\Historical{<name>}: the CSV's file name without .csv."""
    return os.path.basename(csv_path)[:-4] if csv_path.endswith(".csv") else os.path.basename(csv_path)


def marker_text(commits):
    """What the paper prints beside a historical result (gen.py writes it)."""
    return "historical: measured at " + ", ".join(commits)


def strip_comments(tex):
    return re.sub(r"(?<!\\)%.*", "", tex)


def paragraphs(tex):
    """Blank-line separated blocks, with figure/table environments kept whole."""
    tex = strip_comments(tex)
    blocks, cur, depth = [], [], 0
    for line in tex.split("\n"):
        depth += len(re.findall(r"\\begin\{(?:figure|table)\*?\}", line))
        depth -= len(re.findall(r"\\end\{(?:figure|table)\*?\}", line))
        if not line.strip() and depth <= 0:
            if cur:
                blocks.append("\n".join(cur))
            cur, depth = [], 0
        else:
            cur.append(line)
    if cur:
        blocks.append("\n".join(cur))
    return blocks


def historical_uses(csv_path, commits, tex_files, macro_srcs, figures, tables, macros_tex):
    """Where the paper uses csv_path and whether each use says it is
    historical at every one of commits. tex_files: {name: text};
    macro_srcs: {macro: csv path it is read from}; figures: {figure path:
    csv path}; tables: {generated table file: text}; macros_tex: the
    generated macros file. Returns [(where, ok, why)]."""
    name = marker_name(csv_path)
    mark = "\\Historical{" + name + "}"
    res = []
    mine = sorted(m for m, p in macro_srcs.items() if p == csv_path)
    mine_re = re.compile(r"\\(" + "|".join(map(re.escape, mine)) + r")(?![A-Za-z])") if mine else None
    figs = [f for f, p in figures.items() if p == csv_path]
    text_used = False
    for fn, tex in sorted(tex_files.items()):
        for k, blk in enumerate(paragraphs(tex), 1):
            why = []
            if mine_re and mine_re.search(blk):
                why.append("quotes " + ", ".join(sorted(set("\\" + x for x in mine_re.findall(blk)))))
            for f in figs:
                if re.search(r"\\includegraphics(?:\[[^]]*\])?\{" + re.escape(f) + r"\}", blk):
                    why.append("includes " + f)
            if why:
                text_used = True
                first = re.sub(r"\s+", " ", blk.strip())[:60]
                res.append((f"{fn} paragraph {k} ({'; '.join(why)}: \"{first}...\")", mark in blk,
                            "" if mark in blk else f"no {mark} in it"))
    for tn, t in sorted(tables.items()):
        t = t.replace("\\_", "_")
        if csv_path not in t:
            continue
        # the part of the source line that names this CSV (parts end at ';')
        m = re.search(re.escape(csv_path) + r"\}?:[^;]*?historical: measured at ([^;]*)", t)
        missing = [c for c in commits if not m or c not in m.group(1)]
        res.append((f"generated table {tn}", not missing,
                    "" if not missing else f"its source line does not say historical at {', '.join(missing)}"))
    if text_used:
        m = re.search(r"\\csname hist@" + re.escape(name) + r"\\endcsname\{([^}]*)\}", macros_tex)
        missing = [c for c in commits if not m or c not in m.group(1)]
        res.append((f"\\Historical{{{name}}} definition", not missing,
                    "" if not missing else ("not generated (is the CSV in gen.HISTORICAL?)" if not m
                                            else f"does not name {', '.join(missing)}")))
    return res


def report_line(v, short):
    """One line of the stale list."""
    s = f"{v['csv']}: {v['rows']} row(s) at {v['commit']}"
    if v["state"] == "unknown":
        s += f" (not in this clone's history), last change {short(v['stale_by'])}"
    else:
        s += (f", stale since {short(v['stale_by'])} ({v['changes']} later change(s) to the code it "
              f"measures; that one changed {', '.join(v['touched'][:4])}{', ...' if len(v['touched']) > 4 else ''})"
              f", last change {short(v['last_change'])}")
    return s + f"; writer: {', '.join(v['writers'])}"
