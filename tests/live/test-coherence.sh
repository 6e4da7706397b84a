#!/usr/bin/env bash
# Coherence on every path (default attach): a write over loopback inside
# the server namespace is invalidated before Redis reads it (the side
# path), so the very next GET through XDP sees it; a TTL written over the
# attached interface is known at once (answered from the next GET on,
# refused at its margin, never served after it); the watcher subscribes
# to expiry only and asks Redis nothing per write; an interface that
# appears after attach is covered; detach takes the side path off.
. "$(dirname "$0")/lib.sh"
plan 14
cleanup_coh() {
	ip -n "$NS_SRV" link del ps-new 2>/dev/null
	teardown
}
setup guarded
trap cleanup_coh EXIT
LOG=/run/prestack/coherence-$NS_SRV-$DEV_SRV.log
cmdcalls() { srv_redis info commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" | grep . || echo 0; }

srv_redis set ck v0 >/dev/null
cli_redis GET ck >/dev/null
h0=$(stat get_hits)
is "$(cli_redis GET ck)" v0 "cached value served"
is "$(( $(stat get_hits) - h0 ))" 1 "answered at XDP"

# 500 rounds: cached at XDP, written over loopback, read at once through XDP
out=$(TOP="$TOP" timeout 300 $PY - "$NS_SRV" "$NS_CLI" "$IP_SRV" "$PORT" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ.get("TOP", "."), "pylib"))
import redis
from prestack_lib.netns import in_netns
ns_srv, ns_cli, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
side = in_netns(ns_srv, lambda: redis.Redis(host="127.0.0.1", port=port, single_connection_client=True))
in_netns(ns_srv, side.ping)
cli = in_netns(ns_cli, lambda: redis.Redis(host=ip, port=port, single_connection_client=True))
in_netns(ns_cli, cli.ping)
stale = 0
for i in range(1, 501):
    cli.get("lk"); cli.get("lk")
    side.set("lk", f"v{i}")
    if cli.get("lk") != f"v{i}".encode():
        stale += 1
print(f"stale={stale}")
EOF
)
echo "#   $out"
is "$out" "stale=0" "500 writes over loopback: the next GET through XDP never stale"
# (the first round's key was not cached yet)
ok $([ "$(stat side_invalidations)" -ge 499 ]; echo $?) "the side path invalidated them ($(stat side_invalidations))"

# TTLs read from the request: known at once, answered, refused at the margin
cli_redis SET tk tv PX 1500 >/dev/null
cli_redis GET tk >/dev/null                    # the miss every write costs: fills
h0=$(stat get_hits)
is "$(cli_redis GET tk)" tv "a key written with PX is answered from the next GET on"
is "$(( $(stat get_hits) - h0 ))" 1 "... at XDP"
sleep 1.6
is "$(cli_redis GET tk)" "" "and not served once expired"
ok $([ "$(stat ttl_exact)" -ge 1 ]; echo $?) \
	"its TTL came from the request (ttl_exact $(stat ttl_exact))"

# the watcher: expiry events only; no PTTL for writes the packets told
# (an expired key's TTL is asked once: tk's, before this)
p0=$(cmdcalls pttl)
nk=$(srv_redis config get notify-keyspace-events | tail -1)
ok $(case "$nk" in *A*|*g*|*\$*) echo 1 ;; *x*) echo 0 ;; *) echo 1 ;; esac) \
	"notify-keyspace-events \"$nk\": expired only, not every class"
for i in $(seq 100); do echo "SET wk$i v EX 100"; done | cli redis-cli -h "$IP_SRV" -p "$PORT" >/dev/null
for i in $(seq 100); do echo "SET sk$i v"; done | srv_redis >/dev/null
sleep 0.3
is "$(( $(cmdcalls pttl) - p0 ))" 0 "200 writes, 100 with TTLs: no PTTL asked by the watcher"

# an interface that appears after attach is covered (within the watcher's
# 100 ms round, or at once by netlink)
ip link add ps-new netns "$NS_SRV" type veth peer name ps-new-p netns "$NS_CLI"
for _ in $(seq 50); do
	"$PS" status "${TGT[@]}" --json | jq -e '.[0].side_uncovered == 0' >/dev/null && break
	sleep 0.05
done
is "$("$PS" status "${TGT[@]}" --json | jq '.[0].side_uncovered')" 0 "a new interface is covered"
ok $(tc -n "$NS_SRV" filter show dev ps-new ingress | grep -q ps_side_in; echo $?) \
	"... with the side path's ingress filter"
ok $(grep -q "covered ps-new" "$LOG"; echo $?) "... and the watcher says so"

"$PS" detach "${TGT[@]}" --force >/dev/null
ok $(tc -n "$NS_SRV" filter show dev lo ingress | grep -q ps_side; echo $((1 - $?))) \
	"detach takes the side path off loopback"
finish
