#!/usr/bin/env bash
# Redis with requirepass: attach detects it; an unauthenticated client gets
# NOAUTH from Redis, never a cached value; an authenticated one is answered
# at XDP; one authenticated as a named ACL user is never answered. Without
# the password the coherence watcher cannot subscribe: attach says that
# nothing is answered until it holds its lease (fail closed).
. "$(dirname "$0")/lib.sh"
plan 8
trap teardown EXIT
teardown
PS_REDIS_ARGS="--requirepass secret" "$TB" up >/dev/null || { echo "Bail out! testbed"; exit 1; }
out=$("$PS" attach "${TGT[@]}" --mode guarded 2>&1)
echo "$out" | sed 's/^/#   /'
ok $(echo "$out" | grep -q "requires AUTH"; echo $?) "attach detects that Redis requires AUTH"
ok $(echo "$out" | grep -q "no lease yet"; echo $?) "without the password the watcher holds no lease, and attach says so"
"$PS" detach "${TGT[@]}" --force >/dev/null
out=$("$PS" attach "${TGT[@]}" --mode guarded --password secret 2>&1)
echo "$out" | sed 's/^/#   /'
ok $(echo "$out" | grep -q "holds the lease"; echo $?) "with --password the watcher holds the lease"
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
