#!/usr/bin/env bash
# Writes XDP never sees (a client on loopback inside the server namespace,
# key expiry) reach the cache through `prestack coherence`: the next GET
# from the client namespace returns Redis's value. Also measures the
# staleness window (write to invalidation).
. "$(dirname "$0")/lib.sh"
plan 6
COH_PID=
cleanup_coh() { [ -n "$COH_PID" ] && kill "$COH_PID" 2>/dev/null && wait "$COH_PID" 2>/dev/null; teardown; }
setup guarded
trap cleanup_coh EXIT
srv_redis set ck v1 >/dev/null
srv_redis set ck2 keep >/dev/null
"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
h0=$(stat get_hits)
is "$(cli_redis GET ck)" v1 "cached value served"
is "$(( $(stat get_hits) - h0 ))" 1 "answered at XDP"

log=$(mktemp)
"$PS" coherence --redis "$REDIS_LO" "${TGT[@]}" >"$log" 2>&1 &
COH_PID=$!
for _ in $(seq 50); do grep -q watching "$log" && break; sleep 0.1; done
ok $(grep -q watching "$log"; echo $?) "coherence subscribed"

# a write over loopback: XDP does not see it; time until the key is gone
t0=$(date +%s%N)
srv_redis set ck v2 >/dev/null
for _ in $(seq 200); do "$PS" cache get ck "${TGT[@]}" >/dev/null 2>&1 || break; sleep 0.005; done
t1=$(date +%s%N)
echo "#   staleness window (write on loopback -> invalidated): $(( (t1 - t0) / 1000 )) us (polled every 5 ms)"
is "$(cli_redis GET ck)" v2 "a write XDP never saw is visible to the next GET"

# expiry: an EXPIRE event invalidates at once, the key then disappears
srv_redis pexpire ck2 300 >/dev/null
sleep 0.6
is "$(cli_redis GET ck2)" "" "an expired key is not served from the cache"
kill "$COH_PID"; wait "$COH_PID" 2>/dev/null; COH_PID=
ok $(grep -q "events" "$log"; echo $?) "coherence exits on SIGTERM with its counts"
sed 's/^/#   /' "$log"
rm -f "$log"
finish
