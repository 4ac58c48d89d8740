#!/bin/bash
# t4010-revoke-crl.sh - `signet revoke` and `signet crl`: exit codes,
# CRLs accepted by `openssl crl -verify` and `openssl verify -crl_check`,
# reasons and invalidity dates, a monotonic cRLNumber, delta CRLs, and a
# truncated CRL refused by `signet show`.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t4000-revocation-pki.sh"

rev_pki || { echo "cannot create the CA"; exit 1; }

test_expect_success 'an empty CRL verifies with openssl and lists nothing' '
	"$SIGNET" crl --out empty.pem &&
	openssl crl -in empty.pem -noout -verify -CAfile chain.pem 2>&1 | grep -q "verify OK" &&
	! openssl crl -in empty.pem -noout -text | grep -q "Serial Number"
'
test_expect_success 'revoke by certificate file and by serial, with reasons' '
	"$SIGNET" revoke a.crt --reason keyCompromise --invalidity-date 2024-01-02T03:04:05Z &&
	"$SIGNET" revoke "$(serial_of b.crt)" --reason certificateHold
'
test_expect_code 10 'revoking a serial the CA never issued exits 10' '
	"$SIGNET" revoke 0123456789abcdef
'
test_expect_code 11 'revoking an already revoked certificate exits 11' '
	"$SIGNET" revoke a.crt --reason superseded
'
test_expect_code 2 'an unknown reason is a usage error' '
	"$SIGNET" revoke c.crt --reason because
'
test_expect_success 'the CRL verifies and carries reasons, invalidity date, number and AKI' '
	"$SIGNET" crl --out crl.pem --days 3 &&
	openssl crl -in crl.pem -noout -verify -CAfile chain.pem 2>&1 | grep -q "verify OK" &&
	openssl crl -in crl.pem -noout -text >crl.txt &&
	grep -q "Version 2" crl.txt &&
	grep -q "X509v3 Authority Key Identifier" crl.txt &&
	grep -A1 "CRL Number" crl.txt | grep -q "^ *2$" &&
	grep -q "Key Compromise" crl.txt &&
	grep -q "Certificate Hold" crl.txt &&
	grep -A1 "Invalidity Date" crl.txt | grep -q "Jan  2 03:04:05 2024 GMT" &&
	grep -q "Serial Number: $(serial_of a.crt)" crl.txt
'
test_expect_success 'the Python cryptography package reads the same CRL' '
	test -z "$PYTHON" || "$PYTHON" - "$(serial_of a.crt)" <<-PY
	import sys
	from cryptography import x509
	crl = x509.load_pem_x509_crl(open("crl.pem","rb").read())
	inter = x509.load_pem_x509_certificate(open("ca/intermediate.crt","rb").read())
	assert crl.is_signature_valid(inter.public_key())
	r = crl.get_revoked_certificate_by_serial_number(int(sys.argv[1], 16))
	assert r.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
	PY
'
test_expect_success 'openssl verify -crl_check refuses the revoked and accepts the others' '
	! openssl verify -crl_check -CRLfile crl.pem -CAfile ca/root.crt -untrusted ca/intermediate.crt a.crt &&
	openssl verify -crl_check -CRLfile crl.pem -CAfile ca/root.crt -untrusted ca/intermediate.crt a.crt 2>&1 | grep -q "certificate revoked" &&
	openssl verify -crl_check -CRLfile crl.pem -CAfile ca/root.crt -untrusted ca/intermediate.crt c.crt
'
test_expect_success 'the cRLNumber grows across runs (DER output too)' '
	"$SIGNET" crl --der --out c3.der &&
	"$SIGNET" crl --out c4.pem &&
	n3=$(openssl crl -inform DER -in c3.der -noout -crlnumber | cut -d= -f2) &&
	n4=$(openssl crl -in c4.pem -noout -crlnumber | cut -d= -f2) &&
	test $((n3)) -gt 2 && test $((n4)) -gt $((n3))
'
test_expect_success 'a delta CRL lists new revocations and released holds' '
	"$SIGNET" revoke c.crt --reason superseded &&
	"$SIGNET" revoke b.crt --reason removeFromCRL &&
	"$SIGNET" crl --delta --out delta.pem &&
	openssl crl -in delta.pem -noout -verify -CAfile chain.pem 2>&1 | grep -q "verify OK" &&
	openssl crl -in delta.pem -noout -text >delta.txt &&
	grep -q "Delta CRL Indicator: critical" delta.txt &&
	grep -q "Serial Number: $(serial_of c.crt)" delta.txt &&
	grep -q "Remove From CRL" delta.txt &&
	! grep -q "Serial Number: $(serial_of a.crt)" delta.txt
'
test_expect_success 'a truncated CRL given to signet show is a clear parse error' '
	"$SIGNET" crl --der --out full.der &&
	head -c 100 full.der >trunc.der &&
	code=$(exit_code "$SIGNET" show trunc.der 2>err.txt) &&
	test "$code" != 0 && test -s err.txt && grep -q "trunc.der" err.txt
'
test_expect_success 'a DER CRL file is also the delta base (a hard link), PEM gets a copy' '
	"$SIGNET" crl --der --out base.der &&
	test "$(stat -c %i base.der)" = "$(stat -c %i "$SIGNET_DIR/crl-full.der")" &&
	"$SIGNET" crl --out base.pem &&
	test "$(stat -c %i base.der)" != "$(stat -c %i "$SIGNET_DIR/crl-full.der")" &&
	openssl crl -in base.pem -outform DER | cmp - "$SIGNET_DIR/crl-full.der" &&
	! ls "$SIGNET_DIR" | grep -q "\.link\."
'
test_expect_success 'a CRL written over the base path itself leaves one file and a working delta' '
	"$SIGNET" crl --der --out "$SIGNET_DIR/crl-full.der" &&
	! ls "$SIGNET_DIR" | grep -q "\.link\." &&
	"$SIGNET" crl --delta --der --out d2.der &&
	openssl crl -inform DER -in d2.der -noout -text | grep -q "Delta CRL Indicator"
'
test_expect_success 'a base file overwritten with garbage makes --delta a clear error' '
	"$SIGNET" crl --der --out base2.der &&
	echo garbage >base2.der &&
	code=$(exit_code "$SIGNET" crl --delta --out d3.pem 2>err.txt) &&
	test "$code" = 4 && grep -q "base CRL" err.txt &&
	"$SIGNET" crl --out fresh.pem && "$SIGNET" crl --delta --out d4.pem
'
test_expect_success 'revoke and crl have --help' '
	"$SIGNET" revoke --help | grep -q "usage: signet revoke" &&
	"$SIGNET" crl --help | grep -q "usage: signet crl"
'
test_done
