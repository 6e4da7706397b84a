#!/usr/bin/env bash
# Redis with requirepass: attach detects it; an unauthenticated client gets
# NOAUTH from Redis, never a cached value; an authenticated one is answered
# at XDP; one authenticated as a named ACL user is never answered.
. "$(dirname "$0")/lib.sh"
plan 6
trap teardown EXIT
teardown
PS_REDIS_ARGS="--requirepass secret" "$TB" up >/dev/null || { echo "Bail out! testbed"; exit 1; }
out=$("$PS" attach "${TGT[@]}" --mode guarded 2>&1)
echo "$out" | sed 's/^/#   /'
ok $(echo "$out" | grep -q "requires AUTH"; echo $?) "attach detects that Redis requires AUTH"
auth() { srv_redis -a secret --no-auth-warning "$@"; }
auth set k cached-value >/dev/null
auth acl setuser alice on '>pw' '~other:*' '+get' >/dev/null
"$PS" cache warm --redis "$REDIS_LO" --password secret "${TGT[@]}" >/dev/null
h0=$(stat get_hits)
r=$(cli_redis GET k 2>&1)
echo "#   unauthenticated GET k -> $r"
ok $(echo "$r" | grep -q NOAUTH; echo $?) "unauthenticated client gets NOAUTH from Redis"
is "$(( $(stat get_hits) - h0 ))" 0 "nothing answered at XDP for it"
is "$(cli_redis -a secret --no-auth-warning GET k)" cached-value "authenticated client gets the value"
is "$(( $(stat get_hits) - h0 ))" 1 "... answered at XDP"
r=$(cli_redis --user alice --pass pw --no-auth-warning GET k 2>&1)
echo "#   alice GET k -> $r"
ok $(echo "$r" | grep -q NOPERM && [ "$(( $(stat get_hits) - h0 ))" = 1 ]; echo $?) \
	"a named ACL user without access gets NOPERM from Redis, not the cache"
finish
