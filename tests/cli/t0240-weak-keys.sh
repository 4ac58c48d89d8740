#!/bin/bash
# t0240-weak-keys.sh - key strength policy: RSA below 2048 bits and curves
# other than P-256/P-384/P-521 are refused (7) in CSRs given to `sign`,
# keys given to `csr`; nothing is recorded.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup' 'ca_init ca'

test_expect_success 'sign: an RSA-1024 CSR made by openssl (7)' '
	openssl req -new -newkey rsa:1024 -nodes -keyout r1024.key -subj /CN=weak \
		-addext subjectAltName=DNS:weak.example -out r1024.csr 2>/dev/null &&
	expect_fail 7 "RSA 1024 bits" $SIGNET sign r1024.csr --profile server --out x.crt &&
	test ! -e x.crt
'

test_expect_success 'sign: a secp256k1 CSR (7)' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout k1.key \
		-subj /CN=k1 -addext subjectAltName=DNS:k1.example -out k1.csr 2>/dev/null &&
	expect_fail 7 "secp256k1" $SIGNET sign k1.csr --profile server
'

test_expect_success 'sign: a brainpool CSR (7)' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -nodes -keyout bp.key \
		-subj /CN=bp -addext subjectAltName=DNS:bp.example -out bp.csr 2>/dev/null &&
	expect_fail 7 "brainpool" $SIGNET sign bp.csr --profile server
'

test_expect_success 'sign: a P-521 and an Ed448 CSR are accepted' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-521 -nodes -keyout p521.key \
		-subj /CN=p521 -addext subjectAltName=DNS:p521.example -out p521.csr 2>/dev/null &&
	$SIGNET sign p521.csr --profile server --out p521.crt &&
	openssl req -new -newkey ed448 -nodes -keyout ed448.key -subj /CN=ed448 \
		-addext subjectAltName=DNS:ed448.example -out ed448.csr 2>/dev/null &&
	$SIGNET sign ed448.csr --profile server --out ed448.crt &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt p521.crt ed448.crt
'

test_expect_success 'csr: an RSA-1024 key is refused (7)' '
	expect_fail 7 "RSA 1024" $SIGNET csr --key r1024.key --subject CN=weak
'

test_expect_success 'csr: a secp256k1 key is refused (7)' '
	expect_fail 7 "secp256k1" $SIGNET csr --key k1.key --subject CN=k1
'

test_expect_success 'sign: a DSA CSR is refused (7)' '
	openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.param 2>/dev/null &&
	openssl genpkey -paramfile dsa.param -out dsa.key 2>/dev/null &&
	openssl req -new -key dsa.key -subj /CN=dsa -addext subjectAltName=DNS:dsa.example -out dsa.csr &&
	expect_fail 7 "DSA|unsupported" $SIGNET sign dsa.csr --profile server
'

test_expect_success 'only the two accepted certificates were recorded' '
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = 4
'

test_done
