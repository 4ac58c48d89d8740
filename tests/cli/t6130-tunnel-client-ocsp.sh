#!/bin/bash
# t6130-tunnel-client-ocsp.sh - `signet tunnel client --ocsp`: the
# upstream's certificate is checked by OCSP, with a real `signet ocsp serve`
# on 127.0.0.1 and real `signet tunnel server` upstreams (one with a good
# certificate, one with a certificate revoked by `signet revoke`, each
# stapling or not).  Good: relayed; revoked: refused with the reason
# logged; responder down: refused, or relayed and logged with
# --insecure-ocsp-soft-fail; a valid staple is used without asking the
# responder (shown with a responder that is down), and a stapled "revoked"
# refuses.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"

OP=$(free_port) DEAD=$(free_port)
rev_pki --ocsp-url "http://127.0.0.1:$OP" || { echo "cannot create the CA"; exit 1; }
for n in upgood uprev; do
	"$SIGNET" issue $n --profile server --san dns:localhost --san ip:127.0.0.1 \
		--out-dir "$TRASH" >/dev/null 2>&1 || { echo "cannot issue $n"; exit 1; }
done
"$SIGNET" revoke uprev.crt --reason keyCompromise >/dev/null || exit 1
start_http_backend
start_ocsp ocsp "$OP" || { cat ocsp.log; exit 1; }

# upstream NAME CERT [args]: a signet tunnel server in front of the backend;
# sets UP_<NAME> to its port.
upstream() {
	local name=$1 cert=$2 port
	shift 2
	port=$(free_port)
	eval "UP_$name=$port"
	start_tunnel "$name" server --listen "127.0.0.1:$port" --to "127.0.0.1:$BACKEND_PORT" \
		--cert "$cert.chain.pem" --key "$cert.key" --client-ca chain.pem --workers 1 "$@"
}
# client NAME UPSTREAM-PORT [args]: a signet tunnel client to it with
# certificate a; sets CL_<NAME> to its port.
client() {
	local name=$1 up=$2 port
	shift 2
	port=$(free_port)
	eval "CL_$name=$port"
	start_tunnel "$name" client --listen "127.0.0.1:$port" --to "127.0.0.1:$up" \
		--server-name localhost --cert a.crt --key a.key --ca ca/root.crt --workers 1 \
		--ocsp-timeout 2 "$@"
}
get() { curl -sS --max-time 15 "http://127.0.0.1:$1/" >out.txt 2>&1; }

upstream good upgood --no-staple || exit 1
upstream rev uprev --no-staple || exit 1
upstream sgood upgood || exit 1
upstream srev uprev || exit 1
client c1 $UP_good --ocsp || exit 1
client c2 $UP_rev --ocsp || exit 1
client c3 $UP_good --ocsp-url "http://127.0.0.1:$DEAD/" || exit 1
client c4 $UP_good --ocsp-url "http://127.0.0.1:$DEAD/" --insecure-ocsp-soft-fail || exit 1
client c5 $UP_sgood --ocsp-url "http://127.0.0.1:$DEAD/" || exit 1
client c6 $UP_srev --ocsp-url "http://127.0.0.1:$DEAD/" || exit 1
client c7 $UP_rev || exit 1

test_expect_success 'good upstream: asked about (AIA responder) and relayed' '
	get $CL_c1 && grep -q "hello from the backend" out.txt &&
	wait_log c1.log "conn tunnel=client .*upstream=\"CN=upgood\".*outcome=ok ocsp=good$"
'
test_expect_success 'the answer is cached until its nextUpdate' '
	get $CL_c1 && grep -q "hello from the backend" out.txt &&
	wait_log c1.log "conn tunnel=client .*upstream=\"CN=upgood\".*outcome=ok ocsp=good_cached$"
'
test_expect_success 'revoked upstream: refused, nothing relayed, reason and revocation logged' '
	! get $CL_c2 && ! grep -q "hello from the backend" out.txt &&
	wait_log c2.log "conn tunnel=client .*upstream=\"CN=uprev\".*outcome=refused reason=revoked detail=\"upstream certificate CN=uprev .*revoked at .*keyCompromise.*according to OCSP\" ocsp=revoked$"
'
test_expect_success 'without --ocsp the same revoked upstream is relayed (the check above is OCSP)' '
	get $CL_c7 && grep -q "hello from the backend" out.txt &&
	wait_log c7.log "conn tunnel=client .*upstream=\"CN=uprev\".*outcome=ok$"
'
test_expect_success 'responder down: refused (ocsp_unavailable)' '
	! get $CL_c3 && ! grep -q "hello from the backend" out.txt &&
	wait_log c3.log "conn tunnel=client .*outcome=refused reason=ocsp_unavailable detail=\"no OCSP answer for upstream certificate CN=upgood .*127.0.0.1:$DEAD.*did not answer\" ocsp=unavailable$"
'
test_expect_success 'responder down with --insecure-ocsp-soft-fail: relayed, and logged' '
	get $CL_c4 && grep -q "hello from the backend" out.txt &&
	wait_log c4.log "ocsp soft-fail .*upstream=\"CN=upgood\".*allowed without a revocation check" &&
	wait_log c4.log "conn tunnel=client .*outcome=ok ocsp=soft_fail$"
'
test_expect_success 'the stapling upstreams have their responses' '
	wait_log sgood.log "staple: OCSP response from http://127.0.0.1:$OP \(status good" 200 &&
	wait_log srev.log "staple: OCSP response from http://127.0.0.1:$OP \(status revoked" 200
'
test_expect_success 'a valid staple is used: relayed although the responder is down' '
	get $CL_c5 && grep -q "hello from the backend" out.txt &&
	wait_log c5.log "conn tunnel=client .*upstream=\"CN=upgood\".*outcome=ok ocsp=good_stapled$"
'
test_expect_success 'a stapled "revoked" refuses' '
	! get $CL_c6 && ! grep -q "hello from the backend" out.txt &&
	wait_log c6.log "conn tunnel=client .*upstream=\"CN=uprev\".*outcome=refused reason=revoked detail=\"upstream certificate .*keyCompromise.*the response it stapled.*\" ocsp=revoked_stapled$"
'
# nginx as the upstream (an independent stapling implementation): it
# staples whatever ssl_stapling_file holds.
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
	openssl ocsp -issuer ca/intermediate.crt -cert upgood.crt -url "http://127.0.0.1:$OP" \
		-no_nonce -noverify -respout good-staple.der >/dev/null 2>&1 &&
	openssl ocsp -issuer ca/intermediate.crt -cert a.crt -url "http://127.0.0.1:$OP" \
		-no_nonce -noverify -respout other-staple.der >/dev/null 2>&1 || { echo "no staples"; exit 1; }
	NG1=$(free_port) NG2=$(free_port)
	start_nginx ngx "
	server {
		listen 127.0.0.1:$NG1 ssl;
		ssl_certificate $TRASH/upgood.chain.pem;
		ssl_certificate_key $TRASH/upgood.key;
		ssl_stapling on;
		ssl_stapling_file $TRASH/good-staple.der;
		location / { return 200 \"hello from nginx\\n\"; }
	}
	server {
		listen 127.0.0.1:$NG2 ssl;
		ssl_certificate $TRASH/upgood.chain.pem;
		ssl_certificate_key $TRASH/upgood.key;
		ssl_stapling on;
		ssl_stapling_file $TRASH/other-staple.der;
		location / { return 200 \"hello from nginx\\n\"; }
	}" && wait_port 127.0.0.1 $NG1 && wait_port 127.0.0.1 $NG2 || exit 1
	client n1 $NG1 --ocsp-url "http://127.0.0.1:$DEAD/" || exit 1
	client n2 $NG2 --ocsp || exit 1
	test_expect_success 'nginx ssl_stapling_file: its staple is used (responder down)' '
		get $CL_n1 && grep -q "hello from nginx" out.txt &&
		wait_log n1.log "conn tunnel=client .*upstream=\"CN=upgood\".*outcome=ok ocsp=good_stapled$"
	'
	test_expect_success 'a staple for another certificate is logged as not usable; the responder decides' '
		get $CL_n2 && grep -q "hello from nginx" out.txt &&
		wait_log n2.log "ocsp: the OCSP response stapled by the upstream for its certificate \(serial [0-9a-f]+\) is not usable: .*; asking the responder" &&
		wait_log n2.log "conn tunnel=client .*upstream=\"CN=upgood\".*outcome=ok ocsp=good$"
	'
fi
test_expect_success 'SIGTERM stops the client tunnels cleanly (and, sanitized, without a report)' '
	for n in c1 c2 c3 c4 c5 c6; do eval "kill -TERM \$TUNNEL_PID_$n"; done &&
	for n in c1 c2 c3 c4 c5 c6; do wait_log $n.log "stopped: " 200; done &&
	! grep -E "Sanitizer|runtime error" c1.log c2.log c3.log c4.log c5.log c6.log
'
test_expect_code 2 'tunnel client: stapling options are the server'"'"'s' '
	"$SIGNET" tunnel client --listen 127.0.0.1:1 --to 127.0.0.1:2 --cert a.crt --key a.key \
		--ca ca/root.crt --ocsp --staple-url "http://127.0.0.1:$OP/"
'
test_expect_code 2 'tunnel client: --insecure-ocsp-soft-fail alone is a usage error' '
	"$SIGNET" tunnel client --listen 127.0.0.1:1 --to 127.0.0.1:2 --cert a.crt --key a.key \
		--ca ca/root.crt --insecure-ocsp-soft-fail
'
test_done
