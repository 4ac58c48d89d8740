#!/bin/bash
# t6010-tunnel-server.sh - `signet tunnel server` in front of a plain HTTP
# backend: curl and openssl s_client with a client certificate get through;
# no certificate, plain HTTP, garbage, expired, revoked, wrong-CA and
# wrong-purpose certificates are refused with a logged reason, while a
# long-lived connection opened before them keeps working.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

tunnel_pki || { echo "cannot create the test PKI"; exit 1; }
start_http_backend
start_echo_backend
P=$(free_port)
E=$(free_port)
S=$(free_port)
LOG=$TRASH/srv.log
start_tunnel srv server --listen "127.0.0.1:$P" --to "127.0.0.1:$BACKEND_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--crl "$PKI/crl.pem" --status "127.0.0.1:$S"
start_tunnel echo server --listen "127.0.0.1:$E" --to "127.0.0.1:$ECHO_PORT" \
	--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
	--crl "$PKI/crl.pem"

# A long-lived client (Python's ssl module) on the echo tunnel: it says
# "one", waits for the file "go", says "two", and must get both back.
python3 - "$E" "$PKI" "$TRASH" >"$TRASH/long.out" 2>&1 <<'PY' &
import os, socket, ssl, sys, time
port, pki, trash = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/billing.crt", pki + "/billing.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
def rt(msg):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += s.recv(100)
    assert got == msg, got
rt(b"one")
open(trash + "/long.ready", "w").close()
for _ in range(400):
    if os.path.exists(trash + "/go"): break
    time.sleep(0.05)
rt(b"two")
print("long-lived connection OK", s.version())
s.close()
PY
LONG_PID=$!
test_on_exit "kill $LONG_PID"

test_expect_success 'tunnel --help and server --help describe the options' '
	"$SIGNET" tunnel --help | grep -q "tunnel server" &&
	"$SIGNET" tunnel server --help | grep -q -- "--client-ca" &&
	"$SIGNET" tunnel client --help | grep -q -- "--server-name"
'

test_expect_code 2 'missing options are a usage error' '
	"$SIGNET" tunnel server --listen 127.0.0.1:1 --to 127.0.0.1:2
'

test_expect_success 'a second tunnel on a port in use fails at once, it does not share it' '
	{ timeout 10 "$SIGNET" tunnel server --listen "127.0.0.1:$P" \
		--to "127.0.0.1:$BACKEND_PORT" --cert "$PKI/server.crt" --key "$PKI/server.key" \
		--client-ca "$PKI/ca.crt" 2>err; test $? = 12; } &&
	grep -q "cannot listen on 127.0.0.1:$P: Address already in use" err
'

test_expect_code 2 'a malformed --allow rule is a usage error' '
	"$SIGNET" tunnel server --listen 127.0.0.1:1 --to 127.0.0.1:2 --cert x --key y \
		--client-ca z --allow "nonsense"
'

test_expect_success 'the long-lived connection is established' '
	for i in $(seq 200); do test -e "$TRASH/long.ready" && break; sleep 0.05; done &&
	test -e "$TRASH/long.ready"
'

test_expect_success 'curl with a client certificate reaches the backend' '
	tcurl $P billing >out &&
	grep -q "hello from the backend" out
'

test_expect_success 'the connection is logged with subject, serial, TLS version, bytes' '
	serial=$(openssl x509 -in "$PKI/billing.crt" -noout -serial | cut -d= -f2 |
		tr A-F a-f | sed "s/^0*//") &&
	wait_log "$LOG" "client=\"CN=billing\" serial=$serial tls=TLSv1.3 cipher=TLS_[A-Z0-9_]+ bytes_in=[1-9][0-9]* bytes_out=[1-9][0-9]* duration=[0-9.]+s outcome=ok"
'

test_expect_success 'a 1 MiB download arrives intact' '
	tcurl $P billing -o big.bin "https://localhost:$P/big.bin" &&
	cmp big.bin "$TRASH/www/big.bin"
'

test_expect_success 'openssl s_client with a client certificate gets through (TLS 1.3 and 1.2)' '
	for v in -tls1_3 -tls1_2; do
		printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" |
		timeout 10 openssl s_client -quiet $v -connect 127.0.0.1:$P \
			-servername localhost -verify_return_error -CAfile "$PKI/ca.crt" \
			-cert "$PKI/billing.crt" -key "$PKI/billing.key" >s_client.out 2>&1 || true
		grep -q "hello from the backend" s_client.out || { cat s_client.out; exit 1; }
	done
'

test_expect_success 'TLS 1.1 is refused' '
	! printf "x" | timeout 10 openssl s_client -quiet -tls1_1 -connect 127.0.0.1:$P \
		-cert "$PKI/billing.crt" -key "$PKI/billing.key" >/dev/null 2>&1
'

test_expect_success 'no client certificate: refused and logged' '
	! tcurl $P none >out 2>err &&
	! grep -q "hello" out &&
	wait_log "$LOG" "outcome=refused reason=no_client_certificate"
'

test_expect_success 'plain HTTP to the TLS port: refused and logged' '
	! curl -sS --max-time 5 http://127.0.0.1:$P/ >out 2>&1 &&
	! grep -q hello out &&
	wait_log "$LOG" "reason=tls_error detail=\"plain HTTP sent to the TLS port\""
'

test_expect_success 'garbage bytes: refused and logged' '
	python3 -c "
import os, socket
s = socket.create_connection((\"127.0.0.1\", $P))
s.sendall(b\"\\x16\\x03\\x01\\x00\\x10\" + os.urandom(4000))
s.settimeout(5)
try:
    while s.recv(4096): pass
except ConnectionResetError:
    pass
" &&
	wait_log "$LOG" "outcome=error reason=tls_error detail=\"TLS handshake failed"
'

for case in "expired expired certificate" "revoked revoked" "rogue untrusted" \
	    "serveronly purpose"; do
	set -- $case
	test_expect_success "$1 client certificate: refused, reason $2 logged" "
		! tcurl $P $1 >out 2>err &&
		! grep -q hello out &&
		wait_log \"$LOG\" 'client=\"CN=[a-z]+\" serial=[0-9a-f]+ .*outcome=refused reason=$2'
	"
done

test_expect_success 'the refusals carry the verifier sentence' '
	grep "reason=revoked" "$LOG" | grep -q "detail=\"[^\"]\{10,\}\"" &&
	grep "reason=untrusted" "$LOG" | grep -q "client=\"CN=billing\""
'

test_expect_success 'the long-lived connection was not disturbed' '
	: >"$TRASH/go" &&
	wait_log "$TRASH/long.out" "long-lived connection OK"
'

test_expect_success 'a good client still gets through after all that' '
	tcurl $P billing | grep -q "hello from the backend"
'

test_expect_success '/healthz and /metrics report counters by reason' '
	curl -sf http://127.0.0.1:$S/healthz | grep -qx ok &&
	curl -sf http://127.0.0.1:$S/metrics >m &&
	grep -Eq "^signet_tunnel_handshakes_total\{mode=\"server\"\} [3-9]" m &&
	grep -Eq "^signet_tunnel_failures_total\{mode=\"server\",reason=\"revoked\"\} 1$" m &&
	grep -Eq "^signet_tunnel_failures_total\{mode=\"server\",reason=\"no_client_certificate\"\} 1$" m &&
	grep -Eq "^signet_tunnel_bytes_total\{mode=\"server\",direction=\"out\"\} [0-9]{7,}$" m &&
	grep -Eq "^signet_tunnel_certificate_expiry_seconds\{mode=\"server\"\} [0-9]+$" m &&
	curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$S/nope | grep -qx 404
'

test_expect_success 'a CRL that covers no certificate of the path: refused as revocation_unknown, not revoked' '
	"$SIGNET" init --name "Other CA" --no-passphrase --dir other >/dev/null 2>&1 &&
	"$SIGNET" crl --dir other --out other.crl 2>/dev/null &&
	U=$(free_port) &&
	start_tunnel unk server --listen "127.0.0.1:$U" --to "127.0.0.1:$BACKEND_PORT" \
		--cert "$PKI/server.crt" --key "$PKI/server.key" --client-ca "$PKI/ca.crt" \
		--crl other.crl &&
	! tcurl $U billing >/dev/null 2>&1 &&
	wait_log "$TRASH/unk.log" "client=\"CN=billing\" .*outcome=refused reason=revocation_unknown" &&
	! grep -q "reason=revoked" "$TRASH/unk.log"
'

test_done
