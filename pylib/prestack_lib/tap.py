"""tap.py - TAP lines for the Python checks under tests/: ok() numbers
and prints one check (info, when given, as '#' lines under a failure);
done() prints the plan and the count line and exits 1 on any failure."""
import sys

_n = _failed = 0


def ok(cond, what, info=""):
    global _n, _failed
    _n += 1
    print(f"{'ok' if cond else 'not ok'} {_n} - {what}")
    if not cond:
        _failed += 1
        for line in str(info).splitlines():
            print(f"#   {line}")
    return bool(cond)


def done():
    print(f"1..{_n}")
    print(f"{_n - _failed} passed, {_failed} failed")
    sys.exit(1 if _failed else 0)
