#!/usr/bin/env bash
# testbed.sh up [--no-redis] [--mbx] | down | status | redis-restart | mbx [MBX ARGS]
#
# Two network namespaces joined by one veth pair, on the RFC 2544 benchmark
# range, with Redis in the server namespace (names and addresses are
# defined in testbed.env):
#
#   prestack-cli  ps-cli 198.18.0.2/24  <--->  ps-srv 198.18.0.1/24  prestack-srv
#                 XDP_PASS program                redis-server :6379
#
# With --mbx a third namespace sits between them, bridging at L2 through
# build/mbx (experiments/mbx/mbx.c), which injects faults by rule:
#
#   prestack-cli ps-cli <-> m-cli  prestack-mbx  m-srv <-> ps-srv prestack-srv
#                               build/mbx       XDP_PASS
#
# Offloads (TSO, GSO, GRO, checksums) are off on both ends: the server must
# not see CHECKSUM_PARTIAL or GSO skbs at TC egress. `up` is idempotent,
# `down` removes everything `up` made (Redis by the PID it recorded), and
# an error or Ctrl-C during `up` leaves nothing behind.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/experiments/testbed.env"
STATE=/run/prestack-testbed
PASS_OBJ=$TOP/build/client_pass.bpf.o
MBX_BIN=$TOP/build/mbx
OFFLOADS=(tso gso gro tx rx sg)

usage() {
	cat <<EOF
usage: $0 up [--no-redis] [--mbx] | down | status | redis-restart | mbx [ARGS]

  up        create $NS_CLI ($IP_CLI) and $NS_SRV ($IP_SRV:$PORT, redis-server);
            --mbx: with $NS_MBX between them, build/mbx forwarding (no rules)
  mbx ARGS  restart build/mbx with ARGS (--rule R ... --log F.csv --seed N);
            no ARGS: plain forwarding again
  down      remove everything up created (namespaces, veth, redis by PID)
  redis-restart  stop the testbed's redis and start it again (empty)
  status    show what is up; exit 0 if all of it is, 1 otherwise

env PS_REDIS_ARGS: extra redis-server arguments
EOF
}

die() { echo "testbed: $*" >&2; exit 1; }

ns_exists() { ip netns list 2>/dev/null | grep -qw "^$1"; }

redis_pid() {
	local pid
	[ -f "$STATE/redis.pid" ] || return 1
	pid=$(cat "$STATE/redis.pid")
	[ -n "$pid" ] && [ -d "/proc/$pid" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server || return 1
	echo "$pid"
}

redis_ping() { # alive: PONG, or NOAUTH when it requires a password
	ip netns exec "$NS_SRV" redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null |
		grep -qE 'PONG|NOAUTH'
}

offloads_off() {
	local ns=$1 dev=$2 o out=()
	for o in "${OFFLOADS[@]}"; do
		if ip netns exec "$ns" ethtool -K "$dev" "$o" off >/dev/null 2>&1; then
			out+=("$o=off")
		else
			out+=("$o=unchanged")
		fi
	done
	echo "$ns/$dev ${out[*]}" >>"$STATE/offloads"
}

# Close every fd above 2 in the calling (sub)shell: a daemon started from it
# would keep them open, and a flock(1) lock held by whoever called us would
# stay held for as long as Redis runs.
close_fds() {
	local fd
	for fd in $(ls "/proc/$BASHPID/fd"); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done 2>/dev/null
	return 0
}

start_redis() {
	# shellcheck disable=SC2086
	(close_fds
	 exec ip netns exec "$NS_SRV" redis-server --bind "$IP_SRV" 127.0.0.1 \
		--port "$PORT" --save '' --appendonly no --protected-mode no \
		--daemonize yes --pidfile "$STATE/redis.pid.tmp" \
		--logfile "$STATE/redis.log" ${PS_REDIS_ARGS:-})
	for _ in $(seq 50); do
		if [ -s "$STATE/redis.pid.tmp" ] && redis_ping; then
			cp "$STATE/redis.pid.tmp" "$STATE/redis.pid"
			return 0
		fi
		sleep 0.1
	done
	die "redis-server did not answer PING (see $STATE/redis.log)"
}

stop_redis() {
	local pid
	if pid=$(redis_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		[ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
	fi
	return 0
}

# the process exists and is not a zombie (an exited child not yet reaped)
proc_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

mbx_pid() {
	local pid
	[ -f "$STATE/mbx.pid" ] || return 1
	pid=$(cat "$STATE/mbx.pid")
	# any worktree's build/mbx on our interfaces: the state directory is
	# shared, and a down from another tree must stop this one too
	[ -n "$pid" ] && [ -d "/proc/$pid" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "/mbx --a $MBX_CLI --b $MBX_SRV" || return 1
	echo "$pid"
}

stop_mbx() {
	local pid
	if pid=$(mbx_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		[ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$STATE/mbx.pid"
	return 0
}

start_mbx() { # mbx arguments
	[ -x "$MBX_BIN" ] || die "$MBX_BIN missing: run make first"
	# fds 3-9 closed: mbx outlives this script, and must not keep what the
	# caller holds open (`flock LOCK testbed.sh ...` passes the lock as fd
	# 3: an mbx left running would hold the live-test lock)
	ip netns exec "$NS_MBX" "$MBX_BIN" --a "$MBX_CLI" --b "$MBX_SRV" "$@" \
		>>"$STATE/mbx.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	local pid=$! i
	echo "$pid" >"$STATE/mbx.pid"
	# Bound and polling before anyone sends. Until the child has exec'd,
	# its cmdline is still this script's, so mbx_pid (which checks the
	# command line) would call a starting mbx dead: here only whether the
	# process is there.
	for i in $(seq 100); do
		grep -q "rule(s)" "$STATE/mbx.out" 2>/dev/null && return 0
		proc_alive "$pid" || die "mbx exited: $(tail -2 "$STATE/mbx.out")"
		sleep 0.05
	done
	die "mbx did not start in 5 s: $(tail -2 "$STATE/mbx.out")"
}

cmd_mbx() {
	ns_exists "$NS_MBX" || die "testbed is not up with --mbx"
	stop_mbx
	: >"$STATE/mbx.out"
	start_mbx "$@"
	echo "testbed: mbx pid $(cat "$STATE/mbx.pid") ${*:-(no rules)}"
}

cmd_redis_restart() { # the same arguments, an empty dataset (no RDB is saved)
	ns_exists "$NS_SRV" || die "testbed is not up"
	stop_redis
	start_redis
	echo "testbed: redis restarted (pid $(cat "$STATE/redis.pid"))"
}

cmd_down() {
	stop_redis
	stop_mbx
	ns_exists "$NS_MBX" && ip netns del "$NS_MBX"
	ns_exists "$NS_CLI" && ip netns del "$NS_CLI"
	ns_exists "$NS_SRV" && ip netns del "$NS_SRV"
	rm -rf "$STATE"
	return 0
}

cmd_up() {
	local redis=1 mbx=0
	for a in "$@"; do
		case "$a" in
		--no-redis) redis=0 ;;
		--mbx) mbx=1 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	[ -f "$PASS_OBJ" ] || die "$PASS_OBJ missing: run make first"
	if ns_exists "$NS_CLI" && ns_exists "$NS_SRV" && [ $mbx -eq 0 ] && ! ns_exists "$NS_MBX"; then
		if [ $redis -eq 0 ] || redis_ping; then
			echo "testbed: already up, nothing changed"
			return 0
		fi
		start_redis
		echo "testbed: already up; redis restarted (pid $(cat "$STATE/redis.pid"))"
		return 0
	fi

	# anything half made (by us) goes first; then undo on error or Ctrl-C
	cmd_down
	trap 'echo "testbed: up failed, cleaning up" >&2; cmd_down; exit 1' ERR INT TERM
	mkdir -p "$STATE"
	ip netns add "$NS_CLI"
	ip netns add "$NS_SRV"
	if [ $mbx -eq 1 ]; then
		ip netns add "$NS_MBX"
		ip -n "$NS_MBX" link set lo up
		ip link add "$DEV_CLI" netns "$NS_CLI" type veth peer name "$MBX_CLI" netns "$NS_MBX"
		ip link add "$DEV_SRV" netns "$NS_SRV" type veth peer name "$MBX_SRV" netns "$NS_MBX"
	else
		ip link add "$DEV_CLI" netns "$NS_CLI" type veth peer name "$DEV_SRV" netns "$NS_SRV"
	fi
	ip -n "$NS_CLI" addr add "$IP_CLI/$PREFIX" dev "$DEV_CLI"
	ip -n "$NS_SRV" addr add "$IP_SRV/$PREFIX" dev "$DEV_SRV"
	ip -n "$NS_CLI" link set lo up
	ip -n "$NS_SRV" link set lo up
	ip -n "$NS_CLI" link set "$DEV_CLI" up
	ip -n "$NS_SRV" link set "$DEV_SRV" up
	: >"$STATE/offloads"
	offloads_off "$NS_CLI" "$DEV_CLI"
	offloads_off "$NS_SRV" "$DEV_SRV"
	# veth hands XDP_TX frames only to a peer that runs XDP itself
	if [ $mbx -eq 1 ]; then
		ip -n "$NS_MBX" link set "$MBX_CLI" up
		ip -n "$NS_MBX" link set "$MBX_SRV" up
		offloads_off "$NS_MBX" "$MBX_CLI"
		offloads_off "$NS_MBX" "$MBX_SRV"
		ip -n "$NS_MBX" link set dev "$MBX_SRV" xdpdrv obj "$PASS_OBJ" sec xdp
		: >"$STATE/mbx.out"
		start_mbx
	else
		ip -n "$NS_CLI" link set dev "$DEV_CLI" xdpdrv obj "$PASS_OBJ" sec xdp
	fi
	[ $redis -eq 1 ] && start_redis
	trap - ERR INT TERM
	local via=""
	[ $mbx -eq 1 ] && via="$NS_MBX (mbx pid $(cat "$STATE/mbx.pid")) <-> "
	echo "testbed: up ($NS_CLI $IP_CLI <-> $via$NS_SRV $IP_SRV:$PORT${redis:+, redis pid $(cat "$STATE/redis.pid" 2>/dev/null)})"
}

cmd_status() {
	local ok=0 pid
	for ns in "$NS_CLI" "$NS_SRV"; do
		if ns_exists "$ns"; then echo "netns $ns: up"; else echo "netns $ns: missing"; ok=1; fi
	done
	if ns_exists "$NS_CLI"; then
		ip -n "$NS_CLI" -br link show "$DEV_CLI" 2>/dev/null || ok=1
		if ns_exists "$NS_MBX"; then
			ip -n "$NS_MBX" link show "$MBX_SRV" 2>/dev/null | grep -q "prog/xdp" &&
				echo "xdp on $MBX_SRV: yes" || { echo "xdp on $MBX_SRV: no"; ok=1; }
			if pid=$(mbx_pid); then echo "mbx: pid $pid"; else echo "mbx: not running"; ok=1; fi
		else
			ip -n "$NS_CLI" link show "$DEV_CLI" 2>/dev/null | grep -q "prog/xdp" &&
				echo "xdp on $DEV_CLI: yes" || { echo "xdp on $DEV_CLI: no"; ok=1; }
		fi
	fi
	if ns_exists "$NS_SRV"; then
		ip -n "$NS_SRV" -br link show "$DEV_SRV" 2>/dev/null || ok=1
		ip -n "$NS_SRV" link show "$DEV_SRV" 2>/dev/null | grep -q "prog/xdp" &&
			echo "xdp on $DEV_SRV: yes (prestack attached?)" || echo "xdp on $DEV_SRV: no"
	fi
	[ -f "$STATE/offloads" ] && sed 's/^/offloads /' "$STATE/offloads"
	if pid=$(redis_pid) && redis_ping; then
		echo "redis: pid $pid, PING ok"
	else
		echo "redis: not running"; ok=1
	fi
	return $ok
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) cmd_down; echo "testbed: down" ;;
status) cmd_status ;;
redis-restart) cmd_redis_restart ;;
mbx) shift; cmd_mbx "$@" ;;
-h|--help|help) usage ;;
*) usage >&2; exit 2 ;;
esac
