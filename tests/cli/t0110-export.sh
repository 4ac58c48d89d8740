#!/bin/bash
# t0110-export.sh - `signet export`: PKCS#12 that `openssl pkcs12` opens
# (certificate, CA chain and the key, whose public half matches), mode 0600;
# --chain writes the full-chain PEM.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup: CA and a client certificate' '
	ca_init ca &&
	$SIGNET issue alice --profile client --san email:alice@example.com >/dev/null &&
	printf "p12 secret\n" >p12pass
'

test_expect_success 'export --p12 by name: mode 0600, openssl pkcs12 -info reads it' '
	$SIGNET export alice --p12 alice.p12 --p12-pass-file p12pass 2>err &&
	test "$(stat -c %a alice.p12)" = 600 &&
	openssl pkcs12 -in alice.p12 -info -nokeys -passin file:p12pass >info 2>&1 &&
	grep -q "subject=CN *= *alice" info &&
	grep -q "Test Intermediate CA" info && grep -q "Test Root CA" info
'

test_expect_success 'the p12 uses AES-256 and PBKDF2' '
	openssl pkcs12 -in alice.p12 -info -noout -passin file:p12pass 2>&1 | grep -q "AES-256-CBC" &&
	openssl pkcs12 -in alice.p12 -info -noout -passin file:p12pass 2>&1 | grep -q "PBKDF2"
'

test_expect_success 'the key in the p12 is the key of the certificate' '
	openssl pkcs12 -in alice.p12 -nodes -nocerts -passin file:p12pass -out k.pem 2>/dev/null &&
	openssl pkey -in k.pem -pubout >a && openssl pkey -in alice.key -pubout >b && cmp a b &&
	openssl pkcs12 -in alice.p12 -nokeys -clcerts -passin file:p12pass 2>/dev/null | openssl x509 -noout -pubkey >c &&
	cmp a c
'

test_expect_success 'the p12 does not open with a wrong passphrase' '
	printf "wrong\n" >wp &&
	! openssl pkcs12 -in alice.p12 -info -nokeys -passin file:wp >/dev/null 2>&1
'

test_expect_success 'Python cryptography loads the p12 with its chain' '
	$PYTHON - <<-PY
	from cryptography.hazmat.primitives.serialization import pkcs12
	k, c, extra = pkcs12.load_key_and_certificates(open("alice.p12", "rb").read(), b"p12 secret")
	assert k is not None and c is not None
	assert len(extra) == 2, extra
	PY
'

test_expect_success 'export by serial with --key' '
	s=$(openssl x509 -in alice.crt -noout -serial | cut -d= -f2) &&
	mkdir keys && mv alice.key keys/ &&
	$SIGNET export "$s" --key keys/alice.key --p12 s.p12 --p12-pass-file p12pass 2>/dev/null &&
	openssl pkcs12 -in s.p12 -info -nokeys -passin file:p12pass >/dev/null 2>&1 &&
	mv keys/alice.key .
'

test_expect_success 'export --chain writes leaf then intermediate' '
	$SIGNET export alice --chain full.pem &&
	test "$(grep -c "BEGIN CERTIFICATE" full.pem)" = 2 &&
	openssl x509 -in full.pem -noout -subject | grep -q alice &&
	openssl verify -x509_strict -purpose sslclient -CAfile ca/root.crt -untrusted full.pem alice.crt
'

test_expect_success 'export of an encrypted key needs its passphrase' '
	printf "kp\n" >kp &&
	$SIGNET issue bob --profile client --key-pass-file kp >/dev/null &&
	$SIGNET export bob --p12 bob.p12 --p12-pass-file p12pass --key-pass-file kp 2>/dev/null &&
	openssl pkcs12 -in bob.p12 -nodes -nocerts -passin file:p12pass 2>/dev/null | openssl pkey -pubout >x &&
	openssl pkey -in bob.key -passin file:kp -pubout >y && cmp x y
'

test_expect_success '$SIGNET_PASS_FILE (the CA passphrase) never protects a p12 (5)' '
	test -n "$SIGNET_PASS_FILE" &&
	expect_fail 5 "give --p12-pass-file FILE, or run on a terminal" \
		$SIGNET export alice --p12 envpass.p12 </dev/null &&
	test ! -e envpass.p12
'

test_expect_success 'export of an unknown serial or name fails (10)' '
	expect_fail 10 "nobody" $SIGNET export nobody --chain x.pem &&
	test ! -e x.pem
'

test_expect_success 'export with a key that is not the certificate key fails (4), no p12' '
	$SIGNET key new --out other.key 2>/dev/null &&
	expect_fail 4 "other.key is not the key" $SIGNET export alice --key other.key --p12 bad.p12 --p12-pass-file p12pass &&
	test ! -e bad.p12
'

test_expect_success 'export --p12 without the key file fails (3), naming it' '
	$SIGNET issue carol --profile client --out-dir elsewhere >/dev/null &&
	expect_fail 3 "carol.key" $SIGNET export carol --p12 c.p12 --p12-pass-file p12pass &&
	test ! -e c.p12
'

test_expect_success 'export with nothing to do is a usage error (2)' '
	expect_fail 2 "p12" $SIGNET export alice
'

test_done
