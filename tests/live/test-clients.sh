#!/usr/bin/env bash
# Real client libraries with auto-pipelining: ioredis (enableAutoPipelining)
# and node-redis v4 (the commands of one tick in one write), installed from
# npm into build/node at the versions tests/live/node/package-lock.json
# pins. Each runs tests/live/clients.js through tests/live/clients.py: 16
# pooled connections issuing batches of 1-12 commands without waiting (GETs
# of cached keys, of written keys, of misses and of TTL keys; SET, SET PX,
# DEL, INCR, MGET), every reply checked against a model of the store
# (tests/live/regcheck.py), in off (the control: nothing answered before the
# stack, so every check must pass there and MONITOR must see every GET),
# guarded and retrans. Asserts correctness, not speed: zero wrong, stale and
# errors; the share of GETs of cached keys answered before Redis is printed
# and held to CLIENTS_FLOOR (default 0.5: runs here answer 86-89% with
# per-command answering, ~5% when a segment was answered only whole, so
# the floor fails if cutting stops working). npm unreachable is a
# failure, not a skip. The checker is shown to flag a deliberately wrong
# model on the off run's log.
. "$(dirname "$0")/lib.sh"
FLOOR=${CLIENTS_FLOOR:-0.5}
RUN_S=${CLIENTS_SECONDS:-3}
NODE_DIR=$TOP/build/node
PKG=$TOP/tests/live/node
plan 16
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; teardown' EXIT
trap 'exit 130' INT TERM

# (a) the libraries, exactly as the lockfile pins them; an installed copy
# from the same lockfile is kept
want() { jq -r ".dependencies[\"$1\"]" "$PKG/package.json"; }
have() { node -p "require('$NODE_DIR/node_modules/$1/package.json').version" 2>/dev/null; }
if cmp -s "$PKG/package-lock.json" "$NODE_DIR/package-lock.json" &&
	[ "$(have ioredis)" = "$(want ioredis)" ] && [ "$(have redis)" = "$(want redis)" ]; then
	r=0
	echo "# build/node: ioredis $(have ioredis), redis $(have redis) already installed"
else
	mkdir -p "$NODE_DIR" && cp "$PKG/package.json" "$PKG/package-lock.json" "$NODE_DIR/" &&
		timeout 300 npm ci --prefix "$NODE_DIR" --no-audit --no-fund --no-update-notifier \
			--cache "$NODE_DIR/.npm-cache" >"$tmp/npm.log" 2>&1
	r=$?
	[ $r -eq 0 ] && { [ "$(have ioredis)" = "$(want ioredis)" ] && [ "$(have redis)" = "$(want redis)" ] || r=1; }
	tail -15 "$tmp/npm.log" | sed 's/^/#   /'
fi
ok $r "ioredis $(want ioredis) and node-redis (redis) $(want redis) in build/node (npm ci, pinned)"
[ $r -eq 0 ] || { echo "Bail out! npm could not install the client libraries"; exit 1; }

teardown
"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }

# (b) each mode, each library
j() { jq -r "$@" "$tmp/run.json"; }
for mode in off guarded retrans; do
	for lib in ioredis node-redis; do
		timeout 300 "$PY" "$TOP/tests/live/clients.py" --lib "$lib" --mode "$mode" \
			--modules "$NODE_DIR/node_modules" --tmp "$tmp" --seconds "$RUN_S" \
			>"$tmp/run.json" 2>"$tmp/run.err"
		r=$?
		if [ $r -ne 0 ] || ! jq -e . "$tmp/run.json" >/dev/null 2>&1; then
			sed 's/^/#   /' "$tmp/run.err"
			ok 1 "$mode $lib: the run completed"
			ok 1 "$mode $lib: GETs answered before Redis counted"
			continue
		fi
		echo "#   $mode $lib: $(j .ops) ops in $(j .batches) batches over $(j .conns) connections;" \
			"GETs of cached keys answered before Redis: $(j .answered_ro) of $(j .gets_ro)" \
			"($(j '(.answered_share * 10000 | round) / 100')%); get_hits $(j .get_hits)," \
			"fills $(j .fills), fallbacks $(j -c .fallbacks)"
		j '.examples[]' | sed 's/^/#   /'
		is "$(j '[.errors, .wrong, .stale] | map(tostring) | join(" ")') $(j '.ops > 0')" "0 0 0 true" \
			"$mode $lib: $(j .ops) ops, errors wrong stale all 0"
		if [ "$mode" = off ]; then
			is "$(j .answered_all) $(j .get_hits) $(j .ro_at_redis)" "0 0 $(j .gets_ro)" \
				"off $lib: Redis ran every GET (MONITOR saw all $(j .gets) of them), get_hits 0"
		else
			ok "$(j --argjson f "$FLOOR" 'if .get_hits == .answered_all and .answered_share >= $f
				then 0 else 1 end')" "$mode $lib: get_hits ($(j .get_hits)) = GETs Redis never ran, and $(j .answered_share) of the GETs of cached keys answered before Redis >= $FLOOR"
		fi
		# tens of MB each; the control's is checked again below
		[ "$mode-$lib" = off-ioredis ] || rm -f "$tmp/$mode-$lib.log"
	done
done
teardown

# (c) the checker on the control's log, with a deliberately wrong model
log=$tmp/off-ioredis.log
for s in wrong stale ttl; do
	if [ -s "$log" ]; then
		n=$("$PY" "$TOP/tests/live/regcheck.py" "$log" --sabotage "$s" | jq "if \"$s\" == \"wrong\" then .wrong else .stale end")
	else
		n=0
	fi
	ok "$([ "${n:-0}" -gt 0 ]; echo $?)" "regcheck --sabotage $s flags the off run's log ($n replies)"
done
finish
