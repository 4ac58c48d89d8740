#!/bin/bash
# t0230-bad-usage-san.sh - command-line mistakes: unknown profile, options
# and commands are usage errors (2); SAN and subject syntax errors are
# parse errors (4) naming the offending entry.  Nothing is issued.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

count() { sqlite3 ca/signet.db "SELECT count(*) FROM certs"; }

test_expect_success 'setup' '
	ca_init ca && mkcsr c "/CN=c.example" "DNS:c.example" &&
	$SIGNET key new --out k.key 2>/dev/null
'

test_expect_success 'sign: unknown profile (2)' '
	expect_fail 2 "profile" $SIGNET sign c.csr --profile webserver
'
test_expect_success 'issue: unknown profile (2)' '
	expect_fail 2 "profile" $SIGNET issue x.example --profile nope && test ! -e x.example.key
'
test_expect_success 'sign: missing --profile (2)' '
	expect_fail 2 "profile" $SIGNET sign c.csr
'
test_expect_success 'sign: unknown option (2)' '
	c=$(exit_code $SIGNET sign c.csr --profile server --frobnicate 2>err) && test $c = 2
'
test_expect_success 'sign: --issuer other than root/intermediate (2)' '
	expect_fail 2 "issuer" $SIGNET sign c.csr --profile server --issuer nobody
'
test_expect_success 'unknown command (2)' '
	expect_fail 2 "unknown command" $SIGNET frobnicate
'
test_expect_success 'no command at all (2)' '
	c=$(exit_code $SIGNET 2>/dev/null) && test $c = 2
'

for san in "dns:bad..name" "dns:-lead.example" "dns:trail-.example" "dns:under score.example" \
	"dns:a.*.example" "dns:" "ip:300.1.1.1" "ip:1.2.3" "ip:fe80::1::2" "ip:example.com" \
	"email:nope" "email:a@b@c.example" "email:@example.com" "uri:no-scheme" "uri:http://sp ace" \
	"foo:bar" "nocolon"; do
	test_expect_success "sign --san '$san' is a parse error (4)" "
		expect_fail 4 'SAN' \$SIGNET sign c.csr --profile server --san '$san' --out x.crt &&
		test ! -e x.crt
	"
done

test_expect_success 'the error names the offending entry among good ones' '
	expect_fail 4 "ip:300.1.1.1" $SIGNET sign c.csr --profile server --san "dns:ok.example,ip:300.1.1.1,dns:fine.example"
'
test_expect_success 'csr --san syntax errors are refused too (4)' '
	expect_fail 4 "dns:bad..name" $SIGNET csr --key k.key --subject CN=x --san dns:bad..name &&
	expect_fail 4 "foo" $SIGNET csr --key k.key --subject CN=x --san foo:bar
'
test_expect_success 'issue --san syntax errors are refused and write no key (4)' '
	expect_fail 4 "email:nope" $SIGNET issue y.example --san email:nope && test ! -e y.example.key
'
test_expect_success 'a CSR carrying a bad DNS SAN (made by openssl) is refused (4)' '
	mkcsr evil "/CN=evil" "DNS:bad..name" &&
	expect_fail 4 "bad..name" $SIGNET sign evil.csr --profile server
'
test_expect_success 'subject errors: empty, no =, unknown attribute (4)' '
	expect_fail 4 "subject" $SIGNET csr --key k.key --subject "" &&
	expect_fail 4 "subject" $SIGNET csr --key k.key --subject "CN" &&
	expect_fail 4 "unknown attribute" $SIGNET csr --key k.key --subject "FOO=bar"
'
test_expect_success 'nothing was issued' 'test $(count) = 2'

test_done
