#!/bin/bash
# t0290-output-guard.sh - no output option replaces the CA's own files or
# the command's inputs, and `signet sign` checks where its certificates go
# before it signs: a path it cannot write gives one line and no record; a
# write that still fails after the commit says the certificate is recorded.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

records() { $SIGNET list --json | grep -c '"serial"'; }

test_expect_success 'setup' '
	ca_init ca && mkcsr good "/CN=good" "DNS:good.example" &&
	mkcsr two "/CN=two" "DNS:two.example" &&
	cp -a ca ca.orig && echo secret >p12pass &&
	$SIGNET issue c1 --profile client >/dev/null
'

test_expect_success 'crl --out the database is refused (2); the CA still works' '
	expect_fail 2 "signet.db: will not overwrite the CA.s database" \
		$SIGNET crl --out ca/signet.db &&
	$SIGNET list >/dev/null && cmp ca/root.key ca.orig/root.key
'

test_expect_success 'sign --out a CA key is refused before signing (2)' '
	n=$(records) &&
	expect_fail 2 "will not overwrite the root CA key" \
		$SIGNET sign good.csr --profile server --out ca/root.key &&
	cmp ca/root.key ca.orig/root.key && test "$(records)" = "$n"
'

test_expect_success 'a link to a CA file is caught too (2)' '
	ln -s ca/intermediate.key sneaky.pem && ln ca/signet.json hard.json &&
	expect_fail 2 "will not overwrite the intermediate CA key" \
		$SIGNET sign good.csr --profile server --out sneaky.pem &&
	expect_fail 2 "will not overwrite the CA.s configuration" \
		$SIGNET crl --out hard.json &&
	cmp ca/intermediate.key ca.orig/intermediate.key && cmp ca/signet.json ca.orig/signet.json
'

test_expect_success 'export --chain over the CA certificate is refused (2)' '
	expect_fail 2 "will not overwrite the intermediate CA certificate" \
		$SIGNET export c1 --chain ca/intermediate.crt &&
	cmp ca/intermediate.crt ca.orig/intermediate.crt
'

test_expect_success 'export --p12 over its own key is refused (2); the key is kept' '
	cp c1.key c1.key.orig &&
	expect_fail 2 "c1.key: will not overwrite an input of this command" \
		$SIGNET export c1 --p12 c1.key --p12-pass-file p12pass &&
	cmp c1.key c1.key.orig &&
	$SIGNET export c1 --p12 c1.p12 --p12-pass-file p12pass &&
	openssl pkcs12 -in c1.p12 -passin file:p12pass -nokeys -noout
'

test_expect_success 'sign --out its own CSR is refused (2)' '
	cp good.csr g2.csr &&
	expect_fail 2 "g2.csr: will not overwrite an input" \
		$SIGNET sign g2.csr --profile server --out g2.csr &&
	cmp g2.csr good.csr
'

test_expect_success 'sign --out into a missing directory: refused before signing (3)' '
	n=$(records) &&
	expect_fail 3 "nx/w.crt: cannot create" $SIGNET sign good.csr --profile server --out nx/w.crt &&
	expect_fail 3 "nx/c.pem: cannot create" \
		$SIGNET sign good.csr --profile server --out w.crt --chain nx/c.pem &&
	test ! -e w.crt &&
	expect_fail 3 "nx/all.pem: cannot create" \
		$SIGNET sign good.csr two.csr --profile server --out nx/all.pem &&
	test "$(records)" = "$n"
'

test_expect_success 'sign --out-dir the CA directory cannot write root.crt (2)' '
	cp good.csr root.csr && n=$(records) &&
	expect_fail 2 "root.crt: will not overwrite the root CA certificate" \
		$SIGNET sign root.csr --profile server --out-dir ca &&
	cmp ca/root.crt ca.orig/root.crt && test "$(records)" = "$n" &&
	$SIGNET sign good.csr --profile server --out-dir ca 2>/dev/null &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt ca/good.crt
'

test_expect_success 'a write that fails after the commit names the recorded serial (3)' '
	expect_fail 3 "certificate [0-9a-f]+ is issued and recorded but not written .*No space" \
		$SIGNET sign two.csr --profile server --out /dev/full &&
	s=$(grep -o "certificate [0-9a-f]*" $TRASH/.fail.err | cut -d" " -f2) &&
	$SIGNET export "$s" --chain again.pem &&
	openssl req -in two.csr -noout -pubkey >a && openssl x509 -in again.pem -noout -pubkey >b &&
	cmp a b
'

test_expect_success 'a batch that fails after the commit says so too (3)' '
	expect_fail 3 "2 certificates are issued and recorded but not all written" \
		$SIGNET sign good.csr two.csr --profile server --out /dev/full
'

test_done
