#!/usr/bin/env bash
# Lifecycle: Redis's command table loaded at attach; FLUSHALL and a Redis
# restart behind XDP's back flush the cache (through `prestack coherence`);
# detach refused or drained while a connection carries offsets, never
# corrupting it; a connection opened before attach is left alone.
. "$(dirname "$0")/lib.sh"
plan 19
COH_PID= HOLD_PID=
cleanup() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null && wait "$HOLD_PID" 2>/dev/null
	[ -n "$COH_PID" ] && kill "$COH_PID" 2>/dev/null && wait "$COH_PID" 2>/dev/null
	teardown
}
trap cleanup EXIT
trap 'exit 130' INT TERM
teardown
"$TB" up >/dev/null || { echo "Bail out! testbed up failed"; exit 1; }
PIN=/sys/fs/bpf/prestack/$NS_SRV/$DEV_SRV

# --- a connection that exists before attach: never tracked, never answered
coproc HOLD { cli "$PY" "$TOP/tests/live/holdconn.py" "$IP_SRV" "$PORT"; }
HOLD_PID=$HOLD_PID
q() { echo "$*" >&"${HOLD[1]}"; local l; IFS= read -r -t 10 l <&"${HOLD[0]}"; echo "$l"; }
IFS= read -r -t 10 l <&"${HOLD[0]}"
srv_redis set pre v0 >/dev/null

out=$("$PS" attach "${TGT[@]}" --mode guarded)
n=$(sed -n 's/^command table from Redis: \([0-9]*\) commands.*/\1/p' <<<"$out")
# containers whose subcommands differ add an entry per subcommand (NAME|SUB)
sc=$(sed -n 's/^command table from Redis: .* \([0-9]*\) subcommands).*/\1/p' <<<"$out")
m=$(bpftool -j map dump pinned "$PIN/ps_cmds" | jq length)
ok $([ "${n:-0}" -ge 100 ] && [ "${sc:-0}" -gt 0 ] && [ "$m" = "$((n + sc))" ]; echo $?) \
	"attach loads Redis's command table ($n commands and $sc subcommands, $m in ps_cmds)"
"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
h0=$(stat get_hits)
is "$(q GET pre)" v0 "a connection opened before attach gets Redis's value"
is "$(( $(stat get_hits) - h0 ))" 0 "... and is never answered at XDP (untracked)"
echo >&"${HOLD[1]}"; exec {HOLD[1]}>&-; wait "$HOLD_PID" 2>/dev/null; HOLD_PID=

# --- coherence: FLUSHALL on loopback, then a Redis restart
log=$(mktemp)
"$PS" coherence --redis "$REDIS_LO" "${TGT[@]}" >"$log" 2>&1 &
COH_PID=$!
for _ in $(seq 50); do grep -q watching "$log" && break; sleep 0.1; done
srv_redis set fk v1 >/dev/null
cli_redis GET fk >/dev/null          # miss, fills
h0=$(stat get_hits)
is "$(cli_redis GET fk)" v1 "fk cached"
is "$(( $(stat get_hits) - h0 ))" 1 "... answered at XDP"
srv_redis flushall >/dev/null
sleep 0.2
is "$(cli_redis GET fk)" "" "FLUSHALL on loopback (no keyspace event) flushed the cache"

srv_redis set rk before >/dev/null
cli_redis GET rk >/dev/null
h0=$(stat get_hits)
is "$(cli_redis GET rk)" before "rk cached"
"$TB" redis-restart >/dev/null
for _ in $(seq 100); do grep -q reconnected "$log" && break; sleep 0.1; done
ok $(grep -q reconnected "$log"; echo $?) "coherence saw the restart and reconnected"
is "$(cli_redis GET rk)" "" "after a Redis restart (empty) the old value is not served"
srv_redis set rk after >/dev/null
cli_redis GET rk >/dev/null
h1=$(stat get_hits)
is "$(cli_redis GET rk)" after "filling resumed after the reconnect"
is "$(( $(stat get_hits) - h1 ))" 1 "... and answered at XDP again"
kill "$COH_PID"; wait "$COH_PID" 2>/dev/null; COH_PID=
sed 's/^/#   /' "$log"; rm -f "$log"

# --- detach with a live connection that carries offsets
srv_redis set dk dv >/dev/null
coproc HOLD { cli "$PY" "$TOP/tests/live/holdconn.py" "$IP_SRV" "$PORT"; }
HOLD_PID=$HOLD_PID
IFS= read -r -t 10 l <&"${HOLD[0]}"
q GET dk >/dev/null; q GET dk >/dev/null              # fill, then answered

# a flow whose connection vanished without a FIN/RST seen: reaped; the
# live one is kept
vsize=$(bpftool -j map show pinned "$PIN/ps_flows" | jq .bytes_value)
hex4() { printf '%02x %02x %02x %02x' ${1//./ }; }
key="$(hex4 "$IP_CLI") $(hex4 "$IP_SRV") 00 07 $(printf '%02x %02x' $((PORT >> 8)) $((PORT & 255)))"  # IP_CLI:7 -> IP_SRV:PORT
bpftool map update pinned "$PIN/ps_flows" key hex $key \
	value hex $(printf '00 %.0s' $(seq "$vsize")) 2>/dev/null
# (finished connections stay as "done" flows, as TIME_WAIT stays: not counted)
live_flows() { "$PS" flows "${TGT[@]}" --json | jq '[.[] | select(.state != "done")] | length'; }
n_before=$(live_flows)
"$PS" flows "${TGT[@]}" --reap=0 | sed 's/^/#   /'
n_after=$(live_flows)
is "$n_before -> $n_after" "2 -> 1" "flows --reap removes a flow without a server socket"
ok $("$PS" flows "${TGT[@]}" --json | jq -e '.[0].consumed > 0' >/dev/null; echo $?) \
	"... and keeps the live one with its offsets"
"$PS" detach "${TGT[@]}" >/dev/null 2>&1
ok $([ $? -ne 0 ] && [ -d "$PIN" ]; echo $?) \
	"detach refused while a connection carries offsets"
"$PS" detach "${TGT[@]}" --drain 1 >/dev/null 2>&1
ok $([ $? -ne 0 ] && [ -d "$PIN" ]; echo $?) \
	"detach --drain 1 refused when the connection stays open"
is "$(q GET dk)" dv "... the connection is intact after the refused drain"
h0=$(stat get_hits)                                   # (the drain flushed: refilled)
q GET dk >/dev/null
ok $([ "$(( $(stat get_hits) - h0 ))" -eq 1 ]; echo $?) "... and answered at XDP again"
"$PS" detach "${TGT[@]}" --drain 20 >/dev/null 2>&1 &
DPID=$!
sleep 0.5
h0=$(stat get_hits)
r1=$(q GET dk); r2=$(q SET dk dv2); r3=$(q GET dk)
ok $([ "$r1 $r2 $r3" = "dv True dv2" ] && [ "$(( $(stat get_hits) - h0 ))" -eq 0 ]; echo $?) \
	"while draining: nothing answered at XDP, replies correct ($r1 $r2 $r3)"
echo >&"${HOLD[1]}"; exec {HOLD[1]}>&-; wait "$HOLD_PID" 2>/dev/null; HOLD_PID=
wait "$DPID"
ok $([ $? -eq 0 ] && [ ! -d "$PIN" ]; echo $?) \
	"the drain completes once the connection closed: detached"
finish
