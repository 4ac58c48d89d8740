#!/bin/bash
# t6100-tunnel-staple.sh - the server tunnel staples an OCSP response for its
# own certificate, fetched in the background from the responder in the
# certificate's AIA (a real `signet ocsp serve` on 127.0.0.1) or from
# --staple-url; `openssl s_client -status` (TLS 1.3 and 1.2) is the oracle.
# A reload to a new certificate staples that certificate's response.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"

OP=$(free_port)
rev_pki --ocsp-url "http://127.0.0.1:$OP" || { echo "cannot create the CA"; exit 1; }
"$SIGNET" issue localhost --profile server --san dns:localhost --san ip:127.0.0.1 \
	--out-dir "$TRASH" >/dev/null 2>&1 || { echo "cannot issue the server certificate"; exit 1; }
cp localhost.chain.pem srv.pem && cp localhost.key srv.key
start_http_backend
start_ocsp ocsp "$OP" || { cat ocsp.log; exit 1; }

# status PORT [s_client args]: what s_client says about the stapled response.
status() {
	local port=$1
	shift
	timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -status \
		-CAfile ca/root.crt -cert a.crt -key a.key "$@" </dev/null 2>&1
}
args() { # port
	echo --listen "127.0.0.1:$1" --to "127.0.0.1:$BACKEND_PORT" --cert srv.pem \
		--key srv.key --client-ca chain.pem --reload-interval 0.2
}

S=$(free_port)
start_tunnel srv server $(args $S) || exit 1

test_expect_success 'the response for our certificate is fetched from the AIA responder' '
	wait_log srv.log "staple: OCSP response from http://127.0.0.1:$OP \(status good"
'
test_expect_success 'openssl s_client -status sees it stapled (TLS 1.3): successful, good' '
	status $S >out.txt &&
	grep -q "OCSP Response Status: successful" out.txt &&
	grep -q "Cert Status: good" out.txt &&
	grep -q "Verify return code: 0 (ok)" out.txt
'
test_expect_success 'and with TLS 1.2' '
	status $S -tls1_2 >out.txt &&
	grep -q "OCSP Response Status: successful" out.txt && grep -q "Cert Status: good" out.txt
'
test_expect_success 'the staple is for our certificate (serial matches)' '
	status $S >out.txt &&
	serial=$(serial_of localhost.crt) &&
	grep -qi "Serial Number: $serial" out.txt
'
test_expect_success 'a reload to a new certificate staples the new one' '
	"$SIGNET" issue localhost --force --profile server --san dns:localhost \
		--san ip:127.0.0.1 --out-dir "$TRASH/new" >/dev/null 2>&1 &&
		sleep 0.5 && # the responder polls every 200 ms (else "unknown", retried in 10 s)
	cp new/localhost.chain.pem srv.pem.tmp && cp new/localhost.key srv.key.tmp &&
	mv srv.key.tmp srv.key && mv srv.pem.tmp srv.pem &&
	wait_log srv.log "reloaded credentials" 200 &&
	n=0 && for i in $(seq 100); do
		n=$(grep -c "staple: OCSP response from" srv.log) && test "$n" -ge 2 && break
		sleep 0.1
	done && test "$n" -ge 2 &&
	status $S >out.txt && grep -q "Cert Status: good" out.txt &&
	grep -qi "Serial Number: $(serial_of new/localhost.crt)" out.txt
'
S2=$(free_port)
start_tunnel nost server $(args $S2) --no-staple || exit 1
test_expect_success '--no-staple: no response sent' '
	status $S2 >out.txt && grep -q "OCSP response: no response sent" out.txt &&
	grep -q "Verify return code: 0 (ok)" out.txt
'
S3=$(free_port) P0=$(free_port)
start_tunnel dead server $(args $S3) --staple-url "http://127.0.0.1:$P0/" || exit 1
test_expect_success '--staple-url naming a dead responder: retried, logged, nothing stapled' '
	wait_log dead.log "staple: OCSP responder http://127.0.0.1:$P0/ did not answer; retrying" &&
	status $S3 >out.txt && grep -q "OCSP response: no response sent" out.txt &&
	grep -q "Verify return code: 0 (ok)" out.txt
'
test_expect_success 'a connection through the stapling tunnel still works' '
	curl -sS --max-time 10 --cacert ca/root.crt --cert a.crt --key a.key \
		"https://localhost:$S/" | grep -q "hello from the backend"
'
test_expect_success 'SIGTERM stops a stapling tunnel cleanly (and, sanitized, without a report)' '
	kill -TERM $TUNNEL_PID_srv && wait_log srv.log "stopped: " 200 &&
	for p in $TUNNEL_PID_srv; do
		for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
		! kill -0 $p 2>/dev/null
	done &&
	! grep -E "Sanitizer|runtime error" srv.log
'
test_done
