#!/usr/bin/python3
"""freshness_check.py - the logic of `tests/paper_check.py --freshness`
(experiments/paper/freshness.py) on a synthetic git repository built in a
temporary directory, TAP:

  - fresh, stale (by xdp/, by ctl/, by the writer; not by an unrelated
    script), +dirty judged by its base commit, unknown commits, a branch
    that forked before the change, rows of mixed commits;
  - the stale list names the CSV, its commit, the commit that made it stale,
    what that commit changed, and the writer;
  - historical: a use in the text without \\Historical{name}, a marker that
    does not name the stale commit, a table without the note are caught; the
    note and marker gen.py writes satisfy the check;
  - a shallow clone and a directory without git are refused, not judged.
No root, no network; writes only in the temporary directory.
"""
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "experiments/paper"))
sys.path.insert(0, os.path.join(TOP, "pylib"))
import freshness as fr  # noqa: E402
import gen  # noqa: E402
from prestack_lib.tap import done, ok  # noqa: E402


def sh(d, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", "-C", d, *args], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def commit(d, path, text, msg):
    full = os.path.join(d, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "a") as f:
        f.write(text + "\n")
    sh(d, "add", path)
    sh(d, "commit", "-q", "-m", msg)
    return sh(d, "rev-parse", "--short", "HEAD")


def verdict(repo, rows, writers=("experiments/w.py",)):
    return fr.check_csv(repo, "results/foo.csv", rows, list(writers))


def states(vs):
    return {v["commit"]: v["state"] for v in vs}


def main():
    d = tempfile.mkdtemp(prefix="freshness-")
    try:
        sh(d, "init", "-q", "-b", "main")
        c1 = commit(d, "xdp/a.c", "int a;", "xdp")
        commit(d, "ctl/b.c", "int b;", "ctl")
        commit(d, "experiments/w.py", "# writer", "writer")
        c2 = commit(d, "results/foo.csv", "x", "results")       # not measured code
        c3 = commit(d, "experiments/other.py", "# other", "another experiment")
        repo = fr.Repo(d)

        v = verdict(repo, [{"commit": c2}, {"commit": c2}])
        ok(states(v) == {c2: "fresh"} and v[0]["rows"] == 2,
           "rows measured after the last change to xdp/, ctl/, the writer: fresh", str(v))
        ok(states(verdict(repo, [{"commit": c3}])) == {c3: "fresh"},
           "a later commit that changed only results/ or another script: still fresh")
        ok(states(verdict(repo, [{"commit": c1}])) == {c1: "stale"},
           "rows older than the writer's last change: stale")
        c4 = commit(d, "xdp/a.c", "int a2;", "xdp change")
        v = verdict(repo, [{"commit": c3}])[0]
        ok(v["state"] == "stale" and repo.short(v["stale_by"]) == c4 and v["changes"] == 1
           and v["touched"] == ["xdp/a.c"],
           f"a change to xdp/ after the run: stale since that commit ({c4}), which changed xdp/a.c", str(v))
        ok(states(verdict(repo, [{"commit": c4}])) == {c4: "fresh"}, "rows at the change itself: fresh")
        c5 = commit(d, "ctl/b.c", "int b2;", "ctl change")
        c6 = commit(d, "experiments/w.py", "# writer 2", "writer change")
        v = verdict(repo, [{"commit": c3}])[0]
        ok(v["state"] == "stale" and repo.short(v["stale_by"]) == c4 and v["changes"] == 3
           and repo.short(v["last_change"]) == c6,
           "three later changes (xdp/, ctl/, the writer): stale since the first, last change named", str(v))
        v = verdict(repo, [{"commit": c5}])[0]
        ok(v["state"] == "stale" and repo.short(v["stale_by"]) == c6
           and v["touched"] == ["experiments/w.py"],
           "a change to the writer alone makes its CSV stale", str(v))
        ok(states(verdict(repo, [{"commit": c5}], writers=("experiments/other.py",))) == {c5: "fresh"},
           "... and not a CSV another script writes")
        # +dirty: judged by the commit the tree was based on
        ok(states(verdict(repo, [{"commit": c6 + "+dirty"}])) == {c6 + "+dirty": "fresh"},
           "+dirty on the current commit: fresh (base commit judged)")
        v = verdict(repo, [{"commit": c5 + "+dirty"}])[0]
        ok(v["state"] == "stale" and v["dirty"] and v["base"] == c5,
           "+dirty on an older commit: stale, +dirty stripped to place it", str(v))
        # commits this clone cannot place
        v = verdict(repo, [{"commit": "deadbee"}, {"commit": "none"}, {"commit": ""}, {}])
        ok(states(v) == {"deadbee": "unknown", "none": "unknown", "(none)": "unknown"}
           and sum(x["rows"] for x in v) == 4 and all(x["stale_by"] for x in v),
           "a commit not in the history, 'none', no commit: unknown, counted as stale", str(states(v)))
        # mixed rows: only the old ones are listed
        v = verdict(repo, [{"commit": c6}, {"commit": c4}, {"commit": c6}])
        ok(states(v) == {c6: "fresh", c4: "stale"} and [x["rows"] for x in v] == [2, 1],
           "rows of two commits: one verdict per commit, with its row count", str(v))
        # a branch that forked before the last change, and one after it
        sh(d, "checkout", "-q", "-b", "old", c5)
        b1 = commit(d, "results/bar.csv", "y", "measured on a branch")
        sh(d, "checkout", "-q", "-b", "new", "main")
        b2 = commit(d, "results/bar.csv", "z", "measured on a newer branch")
        sh(d, "checkout", "-q", "main")
        ok(states(verdict(repo, [{"commit": b1}, {"commit": b2}])) == {b1: "stale", b2: "fresh"},
           "unmerged branches: forked before the change stale, after it fresh")
        # the stale list
        v = verdict(repo, [{"commit": c3}])[0]
        line = fr.report_line(v, repo.short)
        ok(line.startswith("results/foo.csv: 1 row(s) at " + c3) and f"stale since {c4}" in line
           and "xdp/a.c" in line and f"last change {c6}" in line and line.endswith("writer: experiments/w.py"),
           "the stale list: CSV, its commit, what made it stale, the last change, the writer", line)
        line = fr.report_line(verdict(repo, [{"commit": "deadbee"}])[0], repo.short)
        ok("not in this clone's history" in line, "... and says when a commit is not in the history", line)

        # ---- historical
        csvp, commits = "results/foo.csv", [c3]
        macros = {"FooNs": csvp, "BarNs": "results/bar.csv"}
        figs = {"results/foo.pdf": csvp}
        good_tex = {"sec.tex": "Intro text.\n\nThe hit costs \\FooNs~ns \\Historical{foo}.\n\n"
                               "Bar is \\BarNs.\n\n\\begin{figure}\n\\includegraphics{results/foo.pdf}\n\n"
                               "\\caption{Foo \\Historical{foo}.}\n\\end{figure}\n"}
        tab = {"tab-foo.tex": "...\\texttt{results/foo.csv}: commit " + c3 + ", kernel k, 2026-01-01, "
                              "historical: measured at " + c3 + ".}\n"}
        mtex = "\\expandafter\\def\\csname hist@foo\\endcsname{historical: measured at " + c3 + "}\n"
        u = fr.historical_uses(csvp, commits, good_tex, macros, figs, tab, mtex)
        ok(len(u) == 4 and all(x[1] for x in u),
           "historical: a paragraph, a figure (blank line inside), a table, the marker, all say so",
           str(u))
        bad_tex = {"sec.tex": good_tex["sec.tex"].replace("\\FooNs~ns \\Historical{foo}", "\\FooNs~ns")}
        u = fr.historical_uses(csvp, commits, bad_tex, macros, figs, tab, mtex)
        bad = [x for x in u if not x[1]]
        ok(len(bad) == 1 and "paragraph 2" in bad[0][0] and "\\FooNs" in bad[0][0],
           "a number quoted without \\Historical{foo} beside it is caught", str(bad))
        u = fr.historical_uses(csvp, commits, {"s.tex": "\\FooNs\n\n\\Historical{foo}"}, macros, {}, {}, mtex)
        ok(any(not x[1] for x in u), "the marker in another paragraph does not count")
        u = fr.historical_uses(csvp, commits, good_tex, macros, figs, tab, mtex.replace(c3, "0000000"))
        ok([x[0] for x in u if not x[1]] == ["\\Historical{foo} definition"],
           "a marker that does not name the stale commit is caught")
        u = fr.historical_uses(csvp, commits, good_tex, macros, figs,
                               {"tab-foo.tex": tab["tab-foo.tex"].replace(", historical: measured at " + c3, "")},
                               mtex)
        ok([x[0] for x in u if not x[1]] == ["generated table tab-foo.tex"],
           "a table from the CSV whose source line does not say historical is caught")
        u = fr.historical_uses(csvp, commits, {"s.tex": "nothing here"}, macros, {}, {}, mtex)
        ok(u == [], "a CSV the text does not use has no uses (paper_check fails it: nothing says so)")

        # gen.py's own note and marker satisfy the check (the format cannot drift)
        os.makedirs(os.path.join(d, "results"), exist_ok=True)
        with open(os.path.join(d, "results/foo.csv"), "w") as f:
            f.write(f"date,commit,x\n2026-01-01T00:00:00Z,{c3}+dirty,1\n2026-01-01T00:00:00Z,{c4},2\n")
        saved = gen.TOP, dict(gen.HISTORICAL)
        try:
            gen.TOP = d
            gen.HISTORICAL.clear()
            gen.HISTORICAL[csvp] = "kept for the test"
            o = gen.Out()
            o.prov["foo"] = {"file": csvp, "rows": 2, "commit": f"{c3}+dirty, {c4}", "kernel": "k",
                             "date": "2026-01-01"}
            o.tables["tab-foo.tex"] = "\\begin{tabular}{l}\\end{tabular}\n" + o.note("foo")
            gen.write(o, os.path.join(d, "gen"))
            mt = open(os.path.join(d, "gen/macros.tex")).read()
            tt = open(os.path.join(d, "gen/tab-foo.tex")).read()
        finally:
            gen.TOP = saved[0]
            gen.HISTORICAL.clear()
            gen.HISTORICAL.update(saved[1])
        ok(f"historical: measured at {c3}, {c4}" in tt and f"hist@foo\\endcsname{{historical: measured at {c3}, {c4}}}"
           in mt, "gen.py writes the note under the table and the \\Historical{foo} marker", tt + mt)
        u = fr.historical_uses(csvp, [c3, c4], good_tex, macros, figs, {"tab-foo.tex": tt}, mt)
        ok(len(u) == 4 and all(x[1] for x in u), "... and what it writes passes the check", str(u))

        # ---- refused, not judged
        sh_clone = os.path.join(d, "shallow")
        subprocess.run(["git", "clone", "-q", "--depth", "1", "file://" + d, sh_clone], check=True,
                       capture_output=True)
        try:
            fr.Repo(sh_clone)
            e = None
        except fr.FreshnessError as x:
            e = str(x)
        ok(e and "shallow" in e and "git fetch --unshallow" in e, f"a shallow clone is refused ({e})")
        nogit = tempfile.mkdtemp(prefix="freshness-nogit-")    # outside any repository
        try:
            fr.Repo(nogit)
            e = None
        except fr.FreshnessError as x:
            e = str(x)
        os.rmdir(nogit)
        ok(e and "not a git checkout" in e, f"a tree without git is refused ({e})")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
