#!/bin/bash
# t0210-bad-signature.sh - proof of possession: a CSR whose signature does
# not verify (one flipped bit in the signature, or a subject altered after
# signing) is refused with exit 6, one line, nothing recorded or written.
# (openssl 3.0 `req -verify` exits 0 even on failure, so its message is
# what the oracle checks.)
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

flip() { # in.der out.der offset-from-end
	$PYTHON -c "import sys; d=bytearray(open(sys.argv[1],\"rb\").read()); d[-int(sys.argv[3])]^=0x01; open(sys.argv[2],\"wb\").write(d)" "$@"
}

test_expect_success 'setup: CA and a good CSR' '
	ca_init ca && mkcsr good "/CN=good.example" "DNS:good.example" &&
	openssl req -in good.csr -outform DER -out good.der
'

test_expect_success 'a flipped bit in the signature (PEM re-encoded): openssl agrees it is bad' '
	flip good.der badsig.der 3 &&
	openssl req -inform DER -in badsig.der -out badsig.csr &&
	openssl req -in badsig.csr -verify -noout 2>&1 | grep -q "verify failure"
'

test_expect_success 'sign refuses it (6) with one line naming the file' '
	expect_fail 6 "badsig.csr: CSR signature does not verify" $SIGNET sign badsig.csr --profile server --out x.crt &&
	test ! -e x.crt
'

test_expect_success 'the DER form is refused the same way (6)' '
	expect_fail 6 "signature" $SIGNET sign badsig.der --profile server --out x.crt
'

test_expect_success 'a subject altered after signing is refused (6)' '
	$PYTHON - <<-PY &&
	d = bytearray(open("good.der", "rb").read())
	i = d.find(b"good.example")
	d[i] = ord("b")
	open("altered.der", "wb").write(d)
	PY
	openssl req -inform DER -in altered.der -verify -noout 2>&1 | grep -q "verify failure" &&
	expect_fail 6 "altered.der" $SIGNET sign altered.der --profile server --out x.crt
'

test_expect_success 'show reports the bad signature without failing' '
	$SIGNET show --json badsig.csr | grep -q "\"signature_valid\": false"
'

test_expect_success 'nothing was recorded' '
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = 2
'

test_expect_success 'the good CSR still signs' '
	$SIGNET sign good.csr --profile server --out good.crt &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt good.crt
'

test_done
