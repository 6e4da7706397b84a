#!/usr/bin/env bash
# The key live faults through the middlebox, in every mode, via
# experiments/failures/run.py --quick; asserts what the matrix
# (results/failures-live.csv) records for them:
#  lost_xdp_reply (the 2nd reply injected at XDP dropped, one request in
#  flight): off is never answered at XDP and correct; naive stalls (nobody
#  retransmits injected bytes); guarded and retrans recover when the
#  client's RTO retransmits the GET, which they answer again;
#  lost_xdp_reply_pipelined (4 GETs in flight, the 2nd reply dropped; later
#  replies ack the GET, so the client only SACKs): guarded stalls, retrans
#  re-sends the stored reply on the SACK and every reply is correct.
#  lost_xdp_reply_after_set (SET, then a GET answered at XDP; its reply and
#  the client's retransmission of the GET are lost; the kernel retransmits
#  its +OK): guarded without the ACK hold stalls (that retransmission acks
#  the GET), guarded holds the ACK back and recovers when the client resends
#  the GET.
# No mode may deliver a wrong or stale value in any of them.
. "$(dirname "$0")/lib.sh"
plan 16
out="$TOP/results/tmp/failures-test.csv"
out2="$TOP/results/tmp/failures-test-hold.csv"
mkdir -p "$(dirname "$out")"
trap 'teardown; rm -rf "$TOP/results/tmp/failures" "$out" "${out%.csv}".png "${out%.csv}".pdf \
	"$out2" "${out2%.csv}".png "${out2%.csv}".pdf' EXIT
"$PY" "$TOP/experiments/failures/run.py" --quick --only lost_xdp_reply,lost_xdp_reply_pipelined \
	--modes off,naive,guarded,retrans --out "$out" | sed 's/^/#   /'
"$PY" "$TOP/experiments/failures/run.py" --quick --only lost_xdp_reply_after_set \
	--modes guarded-nohold,guarded --out "$out2" | sed 's/^/#   /'
col() { # scenario mode column
	local f="$out"
	[ "$1" = lost_xdp_reply_after_set ] && f="$out2"
	"$PY" -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["scenario"] == sys.argv[2] and r["mode"] == sys.argv[3]: print(r[sys.argv[4]])' \
		"$f" "$1" "$2" "$3"
}
L=lost_xdp_reply P=lost_xdp_reply_pipelined
ok $([ -s "$out" ] && [ "$(grep -c "^" "$out")" = 9 ]; echo $?) "eight cells written"
is "$(col $L off outcome)/$(col $L off get_hits)" "correct/0" "off: correct, nothing answered at XDP"
is "$(col $L naive outcome)" "stall" "naive: stalls after the lost reply"
is "$(col $L naive mbx_actions)" "1" "naive: the middlebox dropped exactly one reply"
is "$(col $L guarded outcome)" "recovered" "guarded: recovers (client RTO, GET re-answered)"
ok $([ "$(col $L guarded retrans_replies)" -ge 1 ]; echo $?) "guarded: the retransmitted GET was re-answered at XDP"
is "$(col $L retrans outcome)" "recovered" "retrans: recovers"
is "$(col $P guarded outcome)" "stall" "pipelined: guarded stalls (only SACKs, no request retransmitted)"
is "$(col $P retrans outcome)" "correct" "pipelined: retrans re-sends on the SACK, every reply correct, no stall"
ok $([ "$(col $P retrans rtx_dupack)" -ge 1 ]; echo $?) "pipelined: counted as a re-send for a duplicate ACK"
is "$(col $P retrans replies)" "$(col $P off replies)" "pipelined: retrans completes the whole workload"
A=lost_xdp_reply_after_set
is "$(col $A guarded-nohold outcome)" "stall" "after SET, no ACK hold: guarded stalls (the kernel's retransmitted +OK acks the GET)"
is "$(col $A guarded outcome)" "recovered" "after SET: guarded with the ACK hold recovers"
ok $([ "$(col $A guarded ack_held)" -ge 1 ]; echo $?) "after SET: the retransmitted +OK's ACK was held at the GET"
ok $([ "$(col $A guarded retrans_replies)" -ge 1 ]; echo $?) "after SET: the client resent the GET and XDP answered it again"
w=0
for s in $L $P; do for m in off naive guarded retrans; do
	w=$((w + $(col $s $m wrong) + $(col $s $m stale)))
done; done
for m in guarded-nohold guarded; do
	w=$((w + $(col $A $m wrong) + $(col $A $m stale)))
done
is "$w" 0 "no wrong or stale value in any mode"
finish
