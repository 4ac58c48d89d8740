#!/bin/bash
# t0120-mtls-openssl.sh - the classic scenario end to end: a root and an
# intermediate from `signet init`, a server and a client certificate from
# `signet issue`, and a mutual-TLS handshake between `openssl s_server
# -Verify` and `openssl s_client -cert`; a client without a certificate,
# or with one from another CA, is refused.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

PORT=$(free_port)

client() { # extra s_client args...
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect 127.0.0.1:$PORT \
		-CAfile ca/root.crt -verify_return_error -verify_hostname localhost \
		-servername localhost -ign_eof "$@" >client.out 2>&1
}

test_expect_success 'setup: init root + intermediate, issue server and client' '
	ca_init ca &&
	$SIGNET issue localhost --san dns:localhost,ip:127.0.0.1 >/dev/null &&
	$SIGNET issue alice --profile client >/dev/null
'

test_expect_success 'start openssl s_server -Verify 1 -verify_return_error' '
	openssl s_server -accept 127.0.0.1:$PORT -www -Verify 1 -verify_return_error \
		-cert localhost.crt -key localhost.key -cert_chain ca/intermediate.crt \
		-CAfile ca/root.crt >server.log 2>&1 </dev/null &
	echo $! >server.pid &&
	wait_port 127.0.0.1 $PORT
'
test_on_exit 'kill $(cat "$TRASH/server.pid")'

test_expect_success 'mutual TLS: client with its certificate completes the handshake' '
	client -cert alice.crt -key alice.key -cert_chain ca/intermediate.crt &&
	grep -q "Verify return code: 0 (ok)" client.out &&
	grep -q "Verification: OK" client.out &&
	grep -q "HTTP/1.0 200 ok" client.out
'

test_expect_success 'the server saw the client certificate (s_server -www echoes it)' '
	grep -q "CN *= *alice\|CN=alice" client.out
'

test_expect_success 'mutual TLS over TLS 1.2 as well' '
	client -tls1_2 -cert alice.crt -key alice.key -cert_chain ca/intermediate.crt &&
	grep -q "Verify return code: 0 (ok)" client.out && grep -q "HTTP/1.0 200 ok" client.out
'

test_expect_success 'a client without a certificate is refused' '
	{ client || true; } &&
	! grep -q "HTTP/1.0 200 ok" client.out &&
	grep -qi "certificate required\|alert" client.out
'

test_expect_success 'a client certificate from another CA is refused' '
	$SIGNET init --dir other --name "Other Root" --no-passphrase >/dev/null 2>&1 &&
	env -u SIGNET_PASS_FILE $SIGNET issue mallory --dir other --profile client >/dev/null &&
	{ client -cert mallory.crt -key mallory.key || true; } &&
	! grep -q "HTTP/1.0 200 ok" client.out
'

test_expect_success 'a server-only certificate used as client certificate is refused' '
	{ client -cert localhost.crt -key localhost.key -cert_chain ca/intermediate.crt || true; } &&
	! grep -q "HTTP/1.0 200 ok" client.out
'

test_expect_success 'the client refuses a server whose name does not match' '
	$SIGNET issue wrong.example >/dev/null &&
	P2=$(free_port) &&
	{ openssl s_server -accept 127.0.0.1:$P2 -www -cert wrong.example.crt -key wrong.example.key \
		-cert_chain ca/intermediate.crt >s2.log 2>&1 </dev/null & echo $! >s2.pid; } &&
	wait_port 127.0.0.1 $P2 &&
	! printf "GET / HTTP/1.0\r\n\r\n" | timeout 10 openssl s_client -connect 127.0.0.1:$P2 \
		-CAfile ca/root.crt -verify_return_error -verify_hostname localhost >c2.out 2>&1;
	r=$?; kill $(cat s2.pid); test $r = 0 && grep -q "hostname mismatch" c2.out
'

test_done
