#!/bin/bash
# t4061-ocsp-https.sh - `signet ocsp check` and `signet verify --ocsp`
# against an https:// responder: `signet ocsp serve` behind nginx with TLS
# on 127.0.0.1 (fixture t4060).  The responder's TLS certificate is checked
# by signet's verifier: trusted through --ocsp-ca, refused (one clear line,
# exit 12 for `ocsp check`, 26 for `verify`) when it chains to no trusted
# CA or does not carry the URL's host.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t6000-tunnel-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"
. "$SIGNET_SRCDIR/tests/cli/t4060-ocsp-https-pki.sh"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || test_skip_all "no nginx"

OP=$(free_port) HP=$(free_port) WP=$(free_port) SP=$(free_port)
rev_pki --ocsp-url "https://127.0.0.1:$HP/" || { echo "cannot create the CA"; exit 1; }
https_ocsp_certs || { echo "cannot make the nginx certificates"; exit 1; }
"$SIGNET" revoke b.crt --reason keyCompromise >/dev/null
start_ocsp ocsp "$OP" || { cat ocsp.log; exit 1; }
start_https_ocsp ngx "$HP" "$OP" ocsp-tls || exit 1
start_https_ocsp wrong "$WP" "$OP" ocsp-wrong || exit 1
start_https_ocsp self "$SP" "$OP" ocsp-self || exit 1

# check CERT [args]: signet ocsp check, stdout and stderr in out.txt.
check() {
	local cert=$1
	shift
	"$SIGNET" ocsp check "$cert" --issuer chain.pem --timeout 3 "$@" >out.txt 2>&1
}
posts() { cat "$TRASH/$1/logs/access.log" 2>/dev/null | grep -c '"POST / ' || true; }

test_expect_success 'ocsp check: good over https (AIA URL, nginx trusted with --ocsp-ca)' '
	before=$(posts ngx) &&
	check a.crt --ocsp-ca ca/root.crt && grep -q "^a.crt: good$" out.txt &&
	test "$(posts ngx)" -gt "$before"
'
test_expect_code 22 'ocsp check: revoked over https, with time and reason' '
	check b.crt --ocsp-ca ca/root.crt --url "https://127.0.0.1:$HP/" ||
	{ c=$?; grep -q "^b.crt: revoked at .*(keyCompromise)$" out.txt && exit $c; }
'
test_expect_success 'ocsp check: --ocsp-ca may be a directory, and https://localhost matches its DNS SAN' '
	mkdir -p anchors && cp ca/root.crt anchors/ &&
	check a.crt --ocsp-ca anchors --url "https://localhost:$HP/" &&
	grep -q "^a.crt: good$" out.txt
'
test_expect_code 12 'ocsp check: without --ocsp-ca the system store does not vouch for nginx: refused' '
	check a.crt || { c=$?; cat out.txt; test "$(wc -l <out.txt)" = 1 &&
		grep -q "https://127.0.0.1:$HP/: the responder.s TLS certificate is not acceptable: .*trust" out.txt &&
		exit $c; }
'
test_expect_code 12 'ocsp check: a certificate for another host name is refused, naming the host' '
	check a.crt --ocsp-ca ca/root.crt --url "https://127.0.0.1:$WP/" ||
	{ c=$?; cat out.txt; test "$(wc -l <out.txt)" = 1 &&
		grep -q "not acceptable: .*127.0.0.1" out.txt && exit $c; }
'
test_expect_code 12 'ocsp check: a self-signed certificate no anchor vouches for is refused' '
	check a.crt --ocsp-ca ca/root.crt --url "https://127.0.0.1:$SP/" ||
	{ c=$?; cat out.txt; grep -q "not acceptable" out.txt && exit $c; }
'
test_expect_code 12 'ocsp check: https:// to a plain http responder fails cleanly' '
	check a.crt --ocsp-ca ca/root.crt --url "https://127.0.0.1:$OP/" ||
	{ c=$?; cat out.txt; test "$(wc -l <out.txt)" = 1 &&
		grep -q "https://127.0.0.1:$OP/: no OCSP answer" out.txt && exit $c; }
'
test_expect_code 12 'ocsp check: nothing listening on the https port' '
	dead=$(free_port) &&
	check a.crt --ocsp-ca ca/root.crt --url "https://127.0.0.1:$dead/" ||
	{ c=$?; cat out.txt; grep -q "cannot connect to 127.0.0.1 port $dead: Connection refused" out.txt && exit $c; }
'
test_expect_code 3 'ocsp check: an --ocsp-ca file that does not exist' '
	check a.crt --ocsp-ca missing.pem || { c=$?; cat out.txt; grep -q "missing.pem" out.txt && exit $c; }
'
test_expect_code 2 'ocsp check: a URL that is neither http:// nor https://' '
	check a.crt --url "ftp://127.0.0.1:$HP/"
'
test_expect_success 'ocsp check: plain http:// still works (the same function)' '
	check a.crt --url "http://127.0.0.1:$OP/" && grep -q "^a.crt: good$" out.txt
'

# signet verify --ocsp asks about every certificate below the anchor; a
# root-only CA (vca) keeps that to the leaf, whose AIA names the https
# responder: a second `signet ocsp serve` behind nginx (ocsp-tls again).
VOP=$(free_port) VHP=$(free_port)
"$SIGNET" init --dir vca --name "V Root" --no-passphrase --ocsp-url "https://127.0.0.1:$VHP/" \
	>/dev/null 2>&1 || { echo "cannot create the second CA"; exit 1; }
for n in vgood vbad; do
	"$SIGNET" issue $n --dir vca --profile server --san dns:$n.example --out-dir "$TRASH" \
		>/dev/null 2>&1 || { echo "cannot issue $n"; exit 1; }
done
"$SIGNET" revoke vbad.crt --dir vca --reason superseded >/dev/null
start_ocsp vocsp "$VOP" --dir vca || { cat vocsp.log; exit 1; }
start_https_ocsp vngx "$VHP" "$VOP" ocsp-tls || exit 1

test_expect_success 'verify --ocsp: good over https with --ocsp-ca' '
	before=$(posts vngx) &&
	"$SIGNET" verify vgood.crt --trust vca/root.crt --host vgood.example --ocsp \
		--ocsp-ca ca/root.crt --json >out.json && grep -q "\"ocsp\"" out.json &&
	grep -q "https://127.0.0.1:$VHP/" out.json && test "$(posts vngx)" -gt "$before"
'
test_expect_code 22 'verify --ocsp: revoked over https' '
	"$SIGNET" verify vbad.crt --trust vca/root.crt --ocsp --ocsp-ca ca/root.crt 2>err.txt ||
	{ c=$?; cat err.txt; grep -q "revoked .*(superseded) according to OCSP responder https://127.0.0.1:$VHP/" err.txt && exit $c; }
'
test_expect_code 26 'verify --ocsp: an https responder nobody vouches for is revocation status unknown' '
	"$SIGNET" verify vgood.crt --trust vca/root.crt --ocsp 2>err.txt ||
	{ c=$?; cat err.txt; test "$(wc -l <err.txt)" = 1 &&
		grep -q "revocation status unknown .*TLS certificate is not acceptable: no path to a trusted root" err.txt && exit $c; }
'
test_expect_code 3 'verify --ocsp: an --ocsp-ca file that does not exist is a file error' '
	"$SIGNET" verify vgood.crt --trust vca/root.crt --ocsp --ocsp-ca missing.pem 2>err.txt ||
	{ c=$?; cat err.txt; grep -q "missing.pem" err.txt && exit $c; }
'
test_expect_code 2 'verify: --ocsp-ca without --ocsp is a usage error' '
	"$SIGNET" verify vgood.crt --trust vca/root.crt --ocsp-ca ca/root.crt
'
test_done
