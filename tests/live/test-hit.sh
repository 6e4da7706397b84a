#!/usr/bin/env bash
# (a) A GET of a warmed key is answered at XDP with the right value: the hit
# counter moves, Redis's own commandstats do not; a miss goes to Redis.
. "$(dirname "$0")/lib.sh"
plan 12
for mode in naive guarded; do
	setup $mode
	srv_redis mset k1 v1 k2 "hello world" k3 12345 >/dev/null
	"$PS" cache warm --redis "$REDIS_LO" "${TGT[@]}" >/dev/null
	h0=$(stat get_hits); g0=$(getcalls)
	is "$(cli_redis GET k1)" "v1" "$mode: GET k1 = v1"
	is "$(cli_redis GET k2)" "hello world" "$mode: GET k2 = 'hello world'"
	is "$(cli_redis GET k3)" "12345" "$mode: GET k3 = 12345"
	is "$(( $(stat get_hits) - h0 ))" 3 "$mode: 3 GETs answered at XDP"
	is "$(( $(getcalls) - g0 ))" 0 "$mode: Redis executed none of them"
	m0=$(stat get_misses)
	srv_redis set other value >/dev/null
	r=$(cli_redis GET other)
	ok $([ "$r" = value ] && [ "$(( $(getcalls) - g0 ))" = 1 ] &&
	     [ "$(( $(stat get_misses) - m0 ))" = 1 ]; echo $?) \
		"$mode: uncached key answered by Redis, counted as a miss"
	teardown
done
finish
