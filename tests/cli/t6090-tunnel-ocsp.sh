#!/bin/bash
# t6090-tunnel-ocsp.sh - `signet tunnel server --ocsp`: client certificates
# checked against a real `signet ocsp serve` on 127.0.0.1.  A good client
# gets through; a client revoked with `signet revoke` is refused (reason
# and revocation reason logged) once the responder's poll has seen it; the
# answer is cached (with the responder stopped, a cached client still gets
# through, an uncached one does not); responder down refuses, unless
# --insecure-ocsp-soft-fail, which allows and logs.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

OP=$(free_port)
rev_pki --ocsp-url "http://127.0.0.1:$OP" || { echo "cannot create the CA"; exit 1; }
"$SIGNET" issue localhost --profile server --san dns:localhost --san ip:127.0.0.1 --out-dir "$TRASH" \
	>/dev/null 2>&1 || { echo "cannot issue the server certificate"; exit 1; }
start_http_backend
start_ocsp ocsp "$OP" || { cat ocsp.log; exit 1; }

# ocurl PORT NAME: curl through the tunnel with client certificate NAME.
ocurl() {
	curl -sS --max-time 15 --cacert ca/root.crt --cert "$1.crt" --key "$1.key" \
		"https://localhost:$2/"
}
server_args() { # port
	echo --listen "127.0.0.1:$1" --to "127.0.0.1:$BACKEND_PORT" \
		--cert localhost.chain.pem --key localhost.key --client-ca chain.pem \
		--workers 2 --ocsp-timeout 2
}

S=$(free_port)
start_tunnel srv server $(server_args $S) --ocsp || exit 1

test_expect_success 'a good client is asked about and gets through' '
	ocurl a $S >out.txt && grep -q "hello from the backend" out.txt &&
	wait_log srv.log "conn .*CN=a.*outcome=ok ocsp=good$"
'
test_expect_success 'a client revoked with signet revoke is refused with the reason logged' '
	"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null &&
	sleep 0.5 && ! ocurl b $S >out.txt 2>&1 &&
	! grep -q "hello from the backend" out.txt &&
	wait_log srv.log "conn .*CN=b.*outcome=refused reason=revoked detail=\".*revoked at .*keyCompromise.*according to OCSP\" ocsp=revoked"
'
test_expect_success 'answers are cached: with the responder stopped, a cached client still passes' '
	kill $ocsp_PID && down=0 && for i in $(seq 50); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/$OP) 2>/dev/null; then down=1; break; fi
		sleep 0.1
	done && test $down = 1 &&
	ocurl a $S >out.txt && grep -q "hello from the backend" out.txt &&
	wait_log srv.log "conn .*CN=a.*outcome=ok ocsp=good_cached$" &&
	! ocurl b $S >/dev/null 2>&1 &&
	wait_log srv.log "CN=b.*reason=revoked.*ocsp=revoked_cached"
'
test_expect_success 'responder down: an uncached client is refused (ocsp_unavailable)' '
	"$SIGNET" issue d --profile client --out-dir "$TRASH" >/dev/null 2>&1 &&
	! ocurl d $S >out.txt 2>&1 && ! grep -q "hello from the backend" out.txt &&
	wait_log srv.log "conn .*CN=d.*outcome=refused reason=ocsp_unavailable detail=\"no OCSP answer .*did not answer\""
'
S2=$(free_port)
start_tunnel soft server $(server_args $S2) --ocsp --insecure-ocsp-soft-fail || exit 1
test_expect_success 'responder down with --insecure-ocsp-soft-fail: allowed, and logged' '
	ocurl d $S2 >out.txt && grep -q "hello from the backend" out.txt &&
	wait_log soft.log "ocsp soft-fail .*client=\"CN=d\".*allowed without a revocation check" &&
	wait_log soft.log "conn .*CN=d.*outcome=ok ocsp=soft_fail$"
'
start_ocsp ocsp2 "$OP" || exit 1
test_expect_success 'soft-fail does not let a revoked client through once the responder answers' '
	! ocurl b $S2 >/dev/null 2>&1 &&
	wait_log soft.log "CN=b.*reason=revoked"
'
S3=$(free_port) P0=$(free_port)
start_tunnel url server $(server_args $S3) --ocsp-url "http://127.0.0.1:$P0/" || exit 1
test_expect_success '--ocsp-url overrides the AIA (a wrong URL: refused)' '
	! ocurl a $S3 >/dev/null 2>&1 &&
	wait_log url.log "CN=a.*reason=ocsp_unavailable.*127.0.0.1:$P0"
'
SP=$(free_port) S4=$(free_port)
start_tunnel met server $(server_args $S4) --ocsp --status 127.0.0.1:$SP || exit 1
test_expect_success 'metrics count the OCSP refusals' '
	! ocurl b $S4 >/dev/null 2>&1 && wait_log met.log "CN=b.*reason=revoked" &&
	curl -sS --max-time 5 http://127.0.0.1:$SP/metrics >m.txt &&
	grep -q "signet_tunnel_failures_total{mode=\"server\",reason=\"revoked\"} 1" m.txt &&
	grep -q "signet_tunnel_ocsp_requests_total 1" m.txt
'
# A responder that accepts connections and never answers.
SILENT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); time.sleep(120)' "$SILENT" &
SILENT_PID=$!
test_on_exit "kill $SILENT_PID"
S5=$(free_port)
start_tunnel slow server $(server_args $S5) --ocsp-url "http://127.0.0.1:$SILENT/" \
	--ocsp-timeout 1 || exit 1
test_expect_success 'a responder that never answers: refused after --ocsp-timeout, others unharmed' '
	wait_port 127.0.0.1 $SILENT &&
	! ocurl a $S5 >/dev/null 2>&1 &&
	wait_log slow.log "CN=a.*reason=ocsp_unavailable.*did not answer" &&
	ocurl a $S >out.txt && grep -q "hello from the backend" out.txt
'
test_expect_success 'a client that leaves while its OCSP request is in flight is logged as such' '
	curl -sS --max-time 0.5 --cacert ca/root.crt --cert c.crt --key c.key \
		"https://localhost:$S5/" >/dev/null 2>&1; \
	wait_log slow.log "CN=c.*reason=closed_in_handshake detail=\"client closed while its OCSP status was being checked\""
'
test_expect_success 'SIGTERM stops the OCSP tunnels cleanly (and, sanitized, without a report)' '
	for p in $TUNNEL_PID_srv $TUNNEL_PID_soft $TUNNEL_PID_slow; do kill -TERM $p; done &&
	for n in srv soft slow; do wait_log $n.log "stopped: " 200; done &&
	for p in $TUNNEL_PID_srv $TUNNEL_PID_soft $TUNNEL_PID_slow; do
		for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
		! kill -0 $p 2>/dev/null
	done &&
	! grep -E "Sanitizer|runtime error" srv.log soft.log slow.log
'
test_expect_code 2 '--insecure-ocsp-soft-fail alone is a usage error' '
	"$SIGNET" tunnel server $(server_args 1) --insecure-ocsp-soft-fail
'
test_done
