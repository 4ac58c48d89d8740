#!/bin/bash
# t6120-tunnel-ocsp-https.sh - the tunnel's OCSP requests to an https://
# responder: `signet ocsp serve` behind nginx with TLS on 127.0.0.1
# (fixture t4060).  `tunnel server --ocsp` checks clients through it and
# staples from it; `tunnel client --ocsp` checks the upstream through it.
# The responder's TLS certificate is verified (chain under --ocsp-ca, else
# the system store; the URL's host): an untrusted or wrongly named one
# means no answer, i.e. ocsp_unavailable, with the verifier's reason.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4060-ocsp-https-pki.sh"
command -v curl >/dev/null || test_skip_all "no curl"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || test_skip_all "no nginx"

OP=$(free_port) HP=$(free_port) WP=$(free_port)
rev_pki --ocsp-url "https://127.0.0.1:$HP/" || { echo "cannot create the CA"; exit 1; }
"$SIGNET" issue localhost --profile server --san dns:localhost --san ip:127.0.0.1 \
	--out-dir "$TRASH" >/dev/null 2>&1 || { echo "cannot issue the server certificate"; exit 1; }
https_ocsp_certs || { echo "cannot make the nginx certificates"; exit 1; }
"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null || exit 1
start_http_backend
start_ocsp ocsp "$OP" || { cat ocsp.log; exit 1; }
start_https_ocsp ngx "$HP" "$OP" ocsp-tls || exit 1
start_https_ocsp wrong "$WP" "$OP" ocsp-wrong || exit 1

ocurl() { # NAME PORT: curl through a server tunnel with client certificate NAME
	curl -sS --max-time 15 --cacert ca/root.crt --cert "$1.crt" --key "$1.key" \
		"https://localhost:$2/" >out.txt 2>&1
}
posts() { cat "$TRASH/$1/logs/access.log" 2>/dev/null | grep -c '"POST / ' || true; }
server() { # NAME [args]: a server tunnel; sets S_<NAME> to its port
	local name=$1 port
	shift
	port=$(free_port)
	eval "S_$name=$port"
	start_tunnel "$name" server --listen "127.0.0.1:$port" --to "127.0.0.1:$BACKEND_PORT" \
		--cert localhost.chain.pem --key localhost.key --client-ca chain.pem --workers 1 \
		--ocsp-timeout 3 "$@"
}

server good --ocsp --ocsp-ca ca/root.crt --no-staple || exit 1
server sys --ocsp --no-staple || exit 1
server wrong --ocsp-url "https://127.0.0.1:$WP/" --ocsp-ca ca/root.crt --no-staple || exit 1

test_expect_success 'tunnel server --ocsp: a good client, asked about over https (through nginx)' '
	before=$(posts ngx) &&
	ocurl a $S_good && grep -q "hello from the backend" out.txt &&
	wait_log good.log "conn .*CN=a.*outcome=ok ocsp=good$" &&
	test "$(posts ngx)" -gt "$before"
'
test_expect_success 'tunnel server --ocsp: a revoked client is refused, over https' '
	! ocurl b $S_good && ! grep -q "hello from the backend" out.txt &&
	wait_log good.log "conn .*CN=b.*outcome=refused reason=revoked detail=\".*keyCompromise.*according to OCSP\" ocsp=revoked$"
'
test_expect_success 'without --ocsp-ca the system store does not vouch for nginx: ocsp_unavailable, with why' '
	! ocurl a $S_sys && ! grep -q "hello from the backend" out.txt &&
	wait_log sys.log "conn .*CN=a.*reason=ocsp_unavailable detail=\".*https://127.0.0.1:$HP/: its TLS certificate is not acceptable: no path to a trusted root.*\" ocsp=unavailable$"
'
test_expect_success 'a responder certificate without the URL'"'"'s host: ocsp_unavailable, naming it' '
	! ocurl a $S_wrong && ! grep -q "hello from the backend" out.txt &&
	wait_log wrong.log "conn .*CN=a.*reason=ocsp_unavailable detail=\".*its TLS certificate is not acceptable: name mismatch: 127.0.0.1 is not covered.*\" ocsp=unavailable$"
'
server staple --staple-url "https://127.0.0.1:$HP/" --ocsp-ca ca/root.crt || exit 1
test_expect_success 'stapling from an https responder: fetched, and openssl s_client sees it' '
	wait_log staple.log "staple: OCSP response from https://127.0.0.1:$HP/ \(status good" 200 &&
	timeout 10 openssl s_client -connect "127.0.0.1:$S_staple" -servername localhost -status \
		-CAfile ca/root.crt -cert a.crt -key a.key </dev/null >sc.txt 2>&1 &&
	grep -q "OCSP Response Status: successful" sc.txt && grep -q "Cert Status: good" sc.txt
'
server nostaple --staple-url "https://127.0.0.1:$WP/" --ocsp-ca ca/root.crt || exit 1
test_expect_success 'stapling from a wrongly named https responder: refused, logged, nothing stapled' '
	wait_log nostaple.log "staple: OCSP responder https://127.0.0.1:$WP/: its TLS certificate is not acceptable: name mismatch.*retrying" 200 &&
	timeout 10 openssl s_client -connect "127.0.0.1:$S_nostaple" -servername localhost -status \
		-CAfile ca/root.crt -cert a.crt -key a.key </dev/null >sc.txt 2>&1 &&
	grep -q "OCSP response: no response sent" sc.txt
'
# The client side: an upstream (server tunnel) with a certificate whose AIA
# names the https responder.
CL=$(free_port)
start_tunnel cl client --listen "127.0.0.1:$CL" --to "127.0.0.1:$S_good" --server-name localhost \
	--cert a.crt --key a.key --ca ca/root.crt --workers 1 --ocsp --ocsp-ca ca/root.crt || exit 1
test_expect_success 'tunnel client --ocsp: the upstream checked over https, relayed' '
	before=$(posts ngx) &&
	curl -sS --max-time 15 "http://127.0.0.1:$CL/" >out.txt &&
	grep -q "hello from the backend" out.txt &&
	wait_log cl.log "conn tunnel=client .*upstream=\"CN=localhost\".*outcome=ok ocsp=good$" &&
	test "$(posts ngx)" -gt "$before"
'
test_expect_code 3 'an --ocsp-ca file that does not exist stops the tunnel at start' '
	"$SIGNET" tunnel server --listen 127.0.0.1:$(free_port) --to 127.0.0.1:$BACKEND_PORT \
		--cert localhost.chain.pem --key localhost.key --client-ca chain.pem --ocsp \
		--ocsp-ca missing.pem 2>err.txt ||
	{ c=$?; cat err.txt; grep -q "ocsp-ca: missing.pem" err.txt && exit $c; }
'
test_expect_code 2 'an OCSP URL that is neither http:// nor https:// is a usage error' '
	"$SIGNET" tunnel server --listen 127.0.0.1:$(free_port) --to 127.0.0.1:$BACKEND_PORT \
		--cert localhost.chain.pem --key localhost.key --client-ca chain.pem \
		--ocsp-url "ftp://127.0.0.1:$HP/"
'
test_expect_success 'SIGTERM stops the tunnels cleanly (and, sanitized, without a report)' '
	for n in good sys wrong staple nostaple cl; do eval "kill -TERM \$TUNNEL_PID_$n"; done &&
	for n in good sys wrong staple nostaple cl; do wait_log $n.log "stopped: " 200; done &&
	! grep -E "Sanitizer|runtime error" good.log sys.log wrong.log staple.log nostaple.log cl.log
'
test_done
