#!/usr/bin/env bash
# tests/install-check.sh - `make install` into a scratch DESTDIR puts the tool,
# its BPF object and prestack(8) where a distribution expects them, the page
# renders without warnings and documents every command, PREFIX is honoured,
# `make uninstall` takes it all away again. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/.."

n=0 failed=0
ok() { # status, what
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
files=(sbin/prestack lib/prestack/prestack.bpf.o share/man/man8/prestack.8)
page="$dest/usr/local/share/man/man8/prestack.8"

make -s install DESTDIR="$dest" >/dev/null
ok $? "make install DESTDIR=$dest"
for f in "${files[@]}"; do
	[ -f "$dest/usr/local/$f" ]
	ok $? "installed \$(PREFIX)/$f (default PREFIX /usr/local)"
done
[ -x "$dest/usr/local/sbin/prestack" ] && [ "$(stat -c %a "$page")" = 644 ]
ok $? "modes: the tool 755, the page 644"
cmp -s "$page" <(./build/prestack --man)
ok $? "the installed page is the one the tool generates"
warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
ok $([ -z "$warn" ]; echo $?) "groff -man -ww renders prestack.8 without warnings"
[ -n "$warn" ] && echo "$warn" | sed 's/^/#   /'
warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
ok $([ -z "$warn" ]; echo $?) "man -l renders prestack.8 without warnings"
[ -n "$warn" ] && echo "$warn" | sed 's/^/#   /'
cmds=$(./build/prestack --help | sed -n 's/^  \([a-z]\+\) .*/\1/p')
missing=$(for c in $cmds; do grep -qx ".SS $c" "$page" || echo "$c"; done)
ok $([ -n "$cmds" ] && [ -z "$missing" ]; echo $?) "the page has a section for every command ($(echo $cmds))"

make -s uninstall DESTDIR="$dest" >/dev/null
ok $? "make uninstall"
left=$(find "$dest" -type f)
ok $([ -z "$left" ]; echo $?) "nothing left after uninstall"

make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null &&
	(for f in "${files[@]}"; do [ -f "$dest/usr/$f" ] || exit 1; done)
ok $? "PREFIX=/usr honoured"
make -s uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null

echo "1..$n"
[ "$failed" -eq 0 ]
