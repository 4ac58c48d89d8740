#!/bin/bash
# t0820-revoke-by-name.sh - revoke takes what export takes: a serial, the
# name a certificate was issued under, or the certificate file; an unknown
# name is exit 10 in one line, and the CRL then lists the right serial.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a CA and two certificates' '
	$SIGNET init --dir ca --name "Revoke Root" --no-passphrase >/dev/null 2>&1 &&
	$SIGNET issue alice --dir ca --profile client >/dev/null &&
	$SIGNET issue bob --dir ca --profile client >/dev/null
'

test_expect_success 'revoke by name revokes that certificate' '
	$SIGNET revoke alice --dir ca --reason superseded >out &&
	s=$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
	grep -q "$s" out &&
	$SIGNET list --dir ca --status revoked --json | grep -q "\"$s\"" &&
	! $SIGNET list --dir ca --status revoked --json | grep -q "\"name\": \"bob\""
'

test_expect_code 11 'revoking it again by name is exit 11' '
	$SIGNET revoke alice --dir ca 2>/dev/null
'

test_expect_code 10 'an unknown name is exit 10, one line' '
	c=0; $SIGNET revoke nobody --dir ca 2>err || c=$?
	test $(wc -l <err) = 1 && grep -q nobody err && exit $c
'

test_expect_success 'the CRL lists the revoked serial and not the other' '
	$SIGNET crl --dir ca --out ca.crl 2>/dev/null &&
	openssl crl -in ca.crl -noout -text >crl.txt &&
	a=$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2) &&
	b=$(openssl x509 -in bob.crt -noout -serial | cut -d= -f2) &&
	grep -qi "$a" crl.txt && ! grep -qi "$b" crl.txt
'

test_done
