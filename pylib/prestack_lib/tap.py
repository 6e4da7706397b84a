"""tap.py - TAP lines for the Python checks under tests/: ok() numbers
and prints one check (info, when given, as '#' lines under a failure);
done() prints the plan and the count line and exits 1 (or the status it
is given) on any failure."""
import sys

_n = _failed = 0


def ok(cond, what, info=None):
    """info: any object (a string, a value, a tuple of what was got), its
    str() printed line by line under a failure; None or "" prints nothing."""
    global _n, _failed
    _n += 1
    print(f"{'ok' if cond else 'not ok'} {_n} - {what}")
    if not cond:
        _failed += 1
        for line in ("" if info is None else str(info)).splitlines():
            print(f"#   {line}")
    return bool(cond)


def done(status=1):
    """status: the exit status on a failure (paper_check --freshness exits 2
    when the check cannot be made at all)."""
    print(f"1..{_n}")
    print(f"{_n - _failed} passed, {_failed} failed")
    sys.exit(status if _failed else 0)
