#!/bin/bash
# t6110-tunnel-encrypted-key.sh - an encrypted --key (PKCS#8, encrypted by
# openssl, an independent implementation) opened with --key-pass-file, on
# the server and the client side; no passphrase or a wrong one fails at
# once with a clear message (never a prompt); a reload re-reads the
# passphrase file, and a wrong one there keeps the old credentials.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

tunnel_pki || { echo "cannot create the PKI"; exit 1; }
printf 'tunnel key pass\n' >pass.txt
printf 'not the pass\n' >wrong.txt
chmod 600 pass.txt wrong.txt
enc() { openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$1" -out "$2" -passout file:pass.txt; }
enc "$PKI/server.key" srv.key && cp "$PKI/server.crt" srv.crt &&
	enc "$PKI/billing.key" billing.enc.key || { echo "cannot encrypt the keys"; exit 1; }
grep -q "ENCRYPTED PRIVATE KEY" srv.key || { echo "the key is not encrypted"; exit 1; }
start_http_backend

args() { # port
	echo --listen "127.0.0.1:$1" --to "127.0.0.1:$BACKEND_PORT" --cert srv.crt \
		--key srv.key --client-ca "$PKI/ca.crt" --reload-interval 0.2
}
S=$(free_port)

test_expect_code 5 'no --key-pass-file: refused at start, naming the option, without a prompt' '
	timeout 10 "$SIGNET" tunnel server $(args $S) </dev/null 2>err.txt; c=$?; cat err.txt
	grep -q "srv.key: the private key is encrypted; give its passphrase with --key-pass-file" err.txt &&
	exit $c
'
test_expect_code 5 'a wrong passphrase: refused at start' '
	timeout 10 "$SIGNET" tunnel server $(args $S) --key-pass-file wrong.txt </dev/null 2>err.txt
	c=$?; cat err.txt
	grep -q "srv.key: wrong passphrase in wrong.txt" err.txt && exit $c
'
test_expect_code 3 'a missing passphrase file: refused at start' '
	timeout 10 "$SIGNET" tunnel server $(args $S) --key-pass-file nope.txt </dev/null 2>err.txt
	c=$?; cat err.txt; grep -q "nope.txt" err.txt && exit $c
'
start_tunnel srv server $(args $S) --key-pass-file pass.txt || exit 1
test_expect_success 'the right passphrase: the server tunnel serves' '
	tcurl $S billing >out.txt && grep -q "hello from the backend" out.txt
'
C=$(free_port)
start_tunnel cli client --listen 127.0.0.1:$C --to 127.0.0.1:$S --server-name localhost \
	--cert "$PKI/billing.crt" --key billing.enc.key --key-pass-file pass.txt \
	--ca "$PKI/ca.crt" || exit 1
test_expect_success 'the client tunnel opens its encrypted key too' '
	curl -sS --max-time 10 "http://127.0.0.1:$C/" | grep -q "hello from the backend"
'
test_expect_success 'a reload to a new encrypted key and certificate works with the passphrase' '
	_tunnel_issue "$PKI/ca" server2 localhost server_ext "DNS:localhost,IP:127.0.0.1" &&
	enc "$PKI/server2.key" new.key && cp "$PKI/server2.crt" new.crt &&
	mv new.key srv.key && mv new.crt srv.crt &&
	kill -HUP $TUNNEL_PID_srv && wait_log srv.log "reloaded credentials" 200 &&
	want=$(openssl x509 -in "$PKI/server2.crt" -noout -serial) &&
	ok=0 && for i in $(seq 50); do
		got=$(timeout 10 openssl s_client -connect 127.0.0.1:$S -CAfile "$PKI/ca.crt" \
			-cert "$PKI/billing.crt" -key "$PKI/billing.key" </dev/null 2>/dev/null |
			openssl x509 -noout -serial)
		if [ "$got" = "$want" ]; then ok=1; break; fi
		sleep 0.1
	done && test $ok = 1 &&
	tcurl $S billing | grep -q "hello from the backend"
'
test_expect_success 'a passphrase file that no longer matches: the reload is refused, the old key kept' '
	cp wrong.txt pass.txt && kill -HUP $TUNNEL_PID_srv &&
	wait_log srv.log "reload \(SIGHUP\) failed, keeping the previous credentials: .*srv.key: wrong passphrase" &&
	tcurl $S billing | grep -q "hello from the backend"
'
test_expect_success 'SIGTERM stops both tunnels cleanly (and, sanitized, without a report)' '
	kill -TERM $TUNNEL_PID_srv $TUNNEL_PID_cli &&
	wait_log srv.log "stopped: " 200 && wait_log cli.log "stopped: " 200 &&
	for p in $TUNNEL_PID_srv $TUNNEL_PID_cli; do
		for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
		! kill -0 $p 2>/dev/null
	done &&
	! grep -E "Sanitizer|runtime error" srv.log cli.log
'
test_done
