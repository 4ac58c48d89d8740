#!/bin/bash
# t4040-kill9-durability.sh - a revocation that `signet revoke` confirmed
# survives kill -9 of everything around it: the running responder is
# killed, revocations are killed in flight, and after a restart every CRL
# and every OCSP answer includes each confirmed revocation.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"

rev_pki || { echo "cannot create the CA"; exit 1; }
for i in 1 2 3 4 5 6; do "$SIGNET" issue k$i --profile client >/dev/null 2>&1; done
P=$(free_port)
start_ocsp srv "$P" || { cat srv.log; exit 1; }

test_expect_success 'revoke while the responder runs, then kill -9 it' '
	"$SIGNET" revoke a.crt --reason keyCompromise &&
	kill -9 $srv_PID && wait $srv_PID 2>/dev/null; true
'
test_expect_success 'revocations killed in flight: each one confirmed is durable' '
	: >confirmed &&
	for i in 1 2 3 4 5 6; do
		( "$SIGNET" revoke k$i.crt --reason superseded >/dev/null && echo k$i >>confirmed ) &
		pid=$!
		# kill some of them at once, let others finish
		if [ $((i % 2)) = 0 ]; then kill -9 $pid 2>/dev/null; fi
		wait $pid 2>/dev/null || true
	done &&
	grep -q . confirmed
'
test_expect_success 'after restart the CRL lists every confirmed revocation' '
	"$SIGNET" crl --out crl.pem &&
	openssl crl -in crl.pem -noout -text >crl.txt &&
	grep -q "Serial Number: $(serial_of a.crt)" crl.txt &&
	for n in $(cat confirmed); do grep -q "Serial Number: $(serial_of $n.crt)" crl.txt; done
'
test_expect_success 'after restart OCSP answers revoked for every confirmed revocation' '
	P2=$(free_port) && start_ocsp srv2 $P2 &&
	ocsp_ask a.crt $P2 | grep -q "a.crt: revoked" &&
	for n in $(cat confirmed); do ocsp_ask $n.crt $P2 | grep -q "$n.crt: revoked"; done &&
	ocsp_ask b.crt $P2 | grep -q "b.crt: good"
'
test_expect_success 'the database passes its integrity check' '
	sqlite3 ca/signet.db "PRAGMA integrity_check" 2>/dev/null | grep -qx ok || ! command -v sqlite3
'
test_done
