#!/usr/bin/env bash
# Differential test: 200,000 commands over 8 connections to the
# prestack-fronted Redis (guarded, coherence running) and to a reference
# Redis, writes from a path XDP never sees, keys with TTLs: every reply the
# same. Then, in off (the control: nothing answered before the stack, so
# every check must pass), guarded and retrans: keep-alive probes on pooled
# connections idle after an answered GET (tests/live/keepalive.py) and a
# client pipelining across answers (tests/live/pipeline.py).
. "$(dirname "$0")/lib.sh"
plan 15
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

# a challenge ACK is the server's kernel refusing a mistranslated ACK; an
# RTO (TcpExtTCPTimeouts) is how the client recovers. (Plain retransmissions
# are not asserted: tail loss probes count there even in mode off.)
srv_ext() { ip netns exec "$NS_SRV" nstat -az "$1" | awk -v k="$1" '$1 == k {print $2}'; }
cli_ext() { cli nstat -az "$1" | awk -v k="$1" '$1 == k {print $2}'; }
for mode in off guarded retrans; do
	"$PS" mode "$mode" "${TGT[@]}" --force >/dev/null
	h0=$(stat get_hits)
	out=$(cli timeout 60 $PY "$TOP/tests/live/keepalive.py" --host "$IP_SRV" --port "$PORT" \
		--conns 4 --idle 1 --intvl 1 --cnt 2 --wait 6 --rounds 2 2>&1); r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode: 4 pooled keep-alive connections idle 6 s after an answered GET: alive, exact"
	h=$(( $(stat get_hits) - h0 ))
	[ "$mode" = off ] || ok $([ "$h" -ge 4 ]; echo $?) "$mode: the GETs before idling answered at XDP ($h)"
	h0=$(stat get_hits); c0=$(srv_ext TcpExtTCPChallengeACK); x0=$(cli_ext TcpExtTCPTimeouts); y0=$(cli_ext TcpRetransSegs)
	out=$(cli timeout 150 $PY "$TOP/tests/live/pipeline.py" --host "$IP_SRV" --port "$PORT" \
		--rounds 600 2>&1); r=$?
	echo "$out" | sed 's/^/#   /'
	ok $r "$mode: 600 pipelined batches across answers: every reply exact, no stall"
	h=$(( $(stat get_hits) - h0 ))
	c=$(( $(srv_ext TcpExtTCPChallengeACK) - c0 )); x=$(( $(cli_ext TcpExtTCPTimeouts) - x0 )); y=$(( $(cli_ext TcpRetransSegs) - y0 ))
	echo "#   answered at XDP $h, server challenge ACKs $c, client RTOs $x, client retransmitted segments $y"
	[ "$mode" = off ] || ok $([ "$h" -gt 0 ]; echo $?) "$mode: pipelined GETs answered at XDP ($h)"
	is "$c/$x" 0/0 "$mode: no challenge ACK from the server, no client RTO"
done
finish
