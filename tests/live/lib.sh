# tests/live/lib.sh - sourced by the live tests: testbed, attach, TAP.
# Each test brings the testbed up itself and tears everything down on exit,
# also on failure or Ctrl-C.
set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$TOP/experiments/testbed.env"
PS="$TOP/build/prestack"
TB="$TOP/experiments/testbed.sh"
PY=/usr/bin/python3
TGT=(--netns "$NS_SRV" --dev "$DEV_SRV")
REDIS_LO=127.0.0.1:$PORT # Redis on loopback inside the server namespace
T_N=0
T_FAIL=0
# bash runs an EXIT trap on a signal only when the signal is trapped: so
# that every test's own EXIT trap (teardown) runs on Ctrl-C and on
# timeout's TERM too, not only the tests that call setup (a campaign test
# killed by TERM left its coherence watcher and its pins behind)
trap 'exit 130' INT TERM

teardown() {
	"$PS" detach "${TGT[@]}" --force >/dev/null 2>&1
	"$TB" down >/dev/null 2>&1
}

setup() { # mode
	trap teardown EXIT
	trap 'exit 130' INT TERM
	teardown
	"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
	"$PS" attach "${TGT[@]}" --mode "$1" >/dev/null ||
		{ echo "Bail out! attach failed"; exit 1; }
}

plan() { echo "1..$1"; }

ok() { # cond-status description
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAIL=$((T_FAIL + 1))
	fi
}

is() { # got want description
	local r=0
	[ "$1" = "$2" ] || { r=1; echo "#   got '$1', want '$2'"; }
	ok $r "$3"
}

finish() { [ "$T_FAIL" -eq 0 ]; }

cli() { ip netns exec "$NS_CLI" "$@"; }
cli_redis() { cli redis-cli -h "$IP_SRV" -p "$PORT" "$@"; } # through the veth: XDP sees it
srv_redis() { ip netns exec "$NS_SRV" redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }
stat() { "$PS" stats "${TGT[@]}" --json | jq -r ".$1"; }
getcalls() { srv_redis info commandstats | tr -d '\r' | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
