#!/usr/bin/env bash
# demo.sh - what `sudo make demo` runs: testbed up, prestack attached in
# guarded mode, keys warmed, real redis-cli GETs answered at XDP, counters
# before and after, teardown (also on Ctrl-C or error).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/experiments/testbed.env"
PS="$TOP/build/prestack"
TB="$TOP/experiments/testbed.sh"
TGT=(--netns "$NS_SRV" --dev "$DEV_SRV")

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (sudo make demo)" >&2; exit 1; }
cleanup() {
	"$PS" detach "${TGT[@]}" --force >/dev/null 2>&1 || true
	"$TB" down >/dev/null 2>&1 || true
	echo "== torn down"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

h() { printf '\n== %s\n' "$*"; }
srv() { ip netns exec "$NS_SRV" redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }
cli() { ip netns exec "$NS_CLI" "$@"; }
getcalls() { srv info commandstats | tr -d '\r' | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
hits() { "$PS" stats "${TGT[@]}" --json | jq -r .get_hits; }

h "testbed: $NS_CLI $IP_CLI <-> $NS_SRV $IP_SRV:$PORT (redis)"
"$TB" up
h "attach prestack to $DEV_SRV (XDP ingress + TC egress), guarded mode"
"$PS" attach "${TGT[@]}" --mode guarded
h "three keys in Redis, copied into the XDP cache"
srv mset greeting "hello from the XDP cache" answer 42 lang redis >/dev/null
"$PS" cache warm --redis "127.0.0.1:$PORT" "${TGT[@]}"
"$PS" cache list "${TGT[@]}"
h "counters before"
"$PS" stats "${TGT[@]}"
g0=$(getcalls); h0=$(hits)
h "five GETs with redis-cli from the client namespace"
for k in greeting answer lang greeting answer; do
	printf '  GET %-9s -> %s\n' "$k" "$(cli redis-cli -h "$IP_SRV" -p "$PORT" GET $k)"
done
h "one GET of a key that is not cached (Redis answers; TC fills the cache)"
srv set late "filled from the reply" >/dev/null
printf '  GET late      -> %s\n' "$(cli redis-cli -h "$IP_SRV" -p "$PORT" GET late)"
printf '  GET late      -> %s\n' "$(cli redis-cli -h "$IP_SRV" -p "$PORT" GET late)"
h "counters after"
"$PS" stats "${TGT[@]}"
echo
echo "  answered at XDP: $(( $(hits) - h0 )) GETs; executed by Redis: $(( $(getcalls) - g0 )) GET (cmdstat_get)"
h "a connection that mixes hits and writes (python3-redis)"
cli /usr/bin/python3 - "$IP_SRV" "$PORT" <<'PY'
import sys
import redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), single_connection_client=True)
print("  GET answer ->", r.get("answer"))
print("  INCR answer ->", r.incr("answer"))
print("  GET answer ->", r.get("answer"), "(invalidated by INCR, answered by Redis)")
print("  GET answer ->", r.get("answer"), "(filled again, answered at XDP)")
PY
h "flows (none left: every connection closed)"
"$PS" flows "${TGT[@]}"
"$PS" stats "${TGT[@]}" --json | jq -c '{get_hits, get_misses, replies, fallbacks, invalidations, fills, divergences}'
