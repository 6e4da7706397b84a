#!/usr/bin/env bash
# Differential test: 200,000 commands over 8 connections to the
# prestack-fronted Redis (guarded, coherence running) and to a reference
# Redis, writes from a path XDP never sees, keys with TTLs: every reply the
# same.
. "$(dirname "$0")/lib.sh"
plan 2
REF_PID= COH_PID=
cleanup_diff() {
	[ -n "$COH_PID" ] && kill "$COH_PID" 2>/dev/null && wait "$COH_PID" 2>/dev/null
	[ -n "$REF_PID" ] && kill "$REF_PID" 2>/dev/null
	teardown
}
setup guarded
trap cleanup_diff EXIT
# the reference: a second redis-server in the server namespace, on the next port
REF_PORT=$((PORT + 1))
# (the daemon must not inherit our fds: a lock held by a caller would stay held)
(for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
 exec ip netns exec "$NS_SRV" redis-server --port "$REF_PORT" --bind "$IP_SRV" 127.0.0.1 --save '' \
	--appendonly no --protected-mode no --daemonize yes \
	--pidfile /run/prestack-testbed/ref.pid --logfile /run/prestack-testbed/ref.log)
for _ in $(seq 50); do [ -s /run/prestack-testbed/ref.pid ] && break; sleep 0.1; done
REF_PID=$(cat /run/prestack-testbed/ref.pid)
"$PS" coherence --redis "$REDIS_LO" "${TGT[@]}" >/dev/null 2>&1 &
COH_PID=$!
sleep 0.5
h0=$(stat get_hits)
# the client talks to both through the veth (only $PORT is prestack's);
# the side path is a loopback connection inside the server namespace
out=$(ip netns exec "$NS_CLI" timeout 500 $PY "$TOP/tests/live/differential.py" \
	--front "$IP_SRV:$PORT" --ref "$IP_SRV:$REF_PORT" --side "$REDIS_LO" \
	--side-ref "127.0.0.1:$REF_PORT" \
	--side-netns "$NS_SRV" 2>&1)
r=$?
echo "$out" | tail -12 | sed 's/^/#   /'
ok $r "200,000 commands: every reply equals the reference Redis's"
h=$(( $(stat get_hits) - h0 ))
ok $([ "$h" -gt 0 ]; echo $?) "GETs answered at XDP during the run ($h)"
finish
