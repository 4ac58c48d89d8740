#!/bin/bash
# t0040-init.sh - `signet init`: the files of a CA directory, the root and
# intermediate as openssl sees them, keys encrypted and 0600 by default,
# the loud --no-passphrase, and where the directory defaults to.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

test_expect_success 'init --intermediate creates every file' '
	$SIGNET init --dir ca --name "Example Root CA" --intermediate >out 2>err &&
	for f in root.crt root.key intermediate.crt intermediate.key signet.db signet.json; do
		test -s ca/$f || { echo "missing $f"; exit 1; }
	done &&
	grep -q "Example Root CA" out
'

test_expect_success 'keys are mode 0600 and encrypted by default' '
	test "$(stat -c %a ca/root.key)" = 600 &&
	test "$(stat -c %a ca/intermediate.key)" = 600 &&
	head -1 ca/root.key | grep -qx -- "-----BEGIN ENCRYPTED PRIVATE KEY-----" &&
	head -1 ca/intermediate.key | grep -qx -- "-----BEGIN ENCRYPTED PRIVATE KEY-----" &&
	openssl pkey -in ca/root.key -passin file:$SIGNET_PASS_FILE -noout &&
	! openssl pkey -in ca/root.key -passin pass:wrong -noout 2>/dev/null
'

test_expect_success 'the CA directory is not world-readable' '
	test "$(stat -c %a ca)" = 700
'

test_expect_success 'root: self-signed, CA:TRUE critical, keyCertSign+cRLSign critical, SKI' '
	openssl x509 -in ca/root.crt -noout -text >root.txt &&
	grep -A1 "X509v3 Basic Constraints: critical" root.txt | grep -q "CA:TRUE" &&
	grep -A1 "X509v3 Key Usage: critical" root.txt | grep -q "Certificate Sign, CRL Sign" &&
	grep -q "X509v3 Subject Key Identifier" root.txt &&
	openssl verify -x509_strict -CAfile ca/root.crt ca/root.crt &&
	openssl x509 -in ca/root.crt -noout -subject | grep -q "CN *= *Example Root CA"
'

test_expect_success 'the root key matches root.crt' '
	openssl x509 -in ca/root.crt -noout -pubkey >r1 &&
	openssl pkey -in ca/root.key -passin file:$SIGNET_PASS_FILE -pubout >r2 &&
	cmp r1 r2
'

test_expect_success 'intermediate: pathlen:0, signed by the root, verifies strictly' '
	openssl x509 -in ca/intermediate.crt -noout -text >inter.txt &&
	grep -A1 "X509v3 Basic Constraints: critical" inter.txt | grep -q "CA:TRUE, pathlen:0" &&
	grep -A1 "X509v3 Key Usage: critical" inter.txt | grep -q "Certificate Sign, CRL Sign" &&
	grep -q "X509v3 Authority Key Identifier" inter.txt &&
	openssl verify -x509_strict -CAfile ca/root.crt ca/intermediate.crt &&
	openssl x509 -in ca/intermediate.crt -noout -subject | grep -q "Example Intermediate CA"
'

test_expect_success 'root and intermediate serials are positive, >= 64 bits' '
	py_check_cert any ca/root.crt ca/intermediate.crt
'

test_expect_success 'GnuTLS accepts the root and intermediate' '
	cat ca/intermediate.crt ca/root.crt >chain.pem &&
	certtool --verify-chain --infile chain.pem >ct.out 2>&1 &&
	grep -q "Chain verification output: Verified" ct.out
'

test_expect_success 'signet.json is valid JSON that names the CA' '
	$PYTHON -c "import json,sys; c=json.load(open(\"ca/signet.json\")); assert c[\"name\"]==\"Example Root CA\", c; assert c[\"encrypted\"] is True"
'

test_expect_success 'the database records root and intermediate' '
	$SIGNET list --dir ca --json >l.json &&
	$PYTHON -c "import json; p=sorted(r[\"profile\"] for r in json.load(open(\"l.json\"))); assert p==[\"intermediate\",\"root\"], p" &&
	test "$(sqlite3 ca/signet.db "PRAGMA journal_mode")" = wal
'

test_expect_success 'root only (no --intermediate): no intermediate files' '
	$SIGNET init --dir solo --name "Solo Root" >/dev/null &&
	test -s solo/root.crt && test ! -e solo/intermediate.crt && test ! -e solo/intermediate.key
'

test_expect_success '--key-type ec-p384 and --days are honoured' '
	$SIGNET init --dir p384 --name "P384 Root" --key-type ec-p384 --days 100 >/dev/null &&
	openssl x509 -in p384/root.crt -noout -text | grep -q "NIST CURVE: P-384" &&
	end=$(date -d "$(openssl x509 -in p384/root.crt -noout -enddate | cut -d= -f2)" +%s) &&
	now=$(date +%s) &&
	test $(( (end - now) / 86400 )) -ge 99 && test $(( (end - now) / 86400 )) -le 100
'

test_expect_success '--key-type rsa-2048 and ed25519 roots verify' '
	$SIGNET init --dir rsa --name "RSA Root" --key-type rsa-2048 --intermediate >/dev/null &&
	openssl verify -x509_strict -CAfile rsa/root.crt rsa/intermediate.crt &&
	$SIGNET init --dir ed --name "Ed Root" --key-type ed25519 --intermediate >/dev/null &&
	openssl verify -CAfile ed/root.crt ed/intermediate.crt
'

test_expect_success '--no-passphrase stores keys in the clear and warns loudly' '
	env -u SIGNET_PASS_FILE $SIGNET init --dir demo --name "Demo Root" --no-passphrase >out 2>err &&
	grep -q "UNENCRYPTED" err && grep -qi "warning" err &&
	head -1 demo/root.key | grep -qx -- "-----BEGIN PRIVATE KEY-----" &&
	test "$(stat -c %a demo/root.key)" = 600 &&
	openssl pkey -in demo/root.key -noout
'

test_expect_success 'a --no-passphrase CA issues without any passphrase' '
	env -u SIGNET_PASS_FILE setsid $SIGNET issue --dir demo demo.example </dev/null >/dev/null &&
	openssl verify -CAfile demo/root.crt demo.example.crt
'

test_expect_success '--no-passphrase and --pass-file together are a usage error' '
	expect_fail 2 "exclude" $SIGNET init --dir x --name X --no-passphrase --pass-file $SIGNET_PASS_FILE &&
	test ! -e x
'

test_expect_success 'init with no passphrase source and no terminal fails (5), creates nothing' '
	expect_fail 5 "passphrase" env -u SIGNET_PASS_FILE setsid $SIGNET init --dir np --name NP </dev/null &&
	test ! -e np
'

test_expect_success 'missing --name is a usage error (2)' '
	expect_fail 2 "name" $SIGNET init --dir nn
'

test_expect_success '$SIGNET_DIR chooses the directory' '
	SIGNET_DIR=$TRASH/envca $SIGNET init --name "Env Root" >/dev/null &&
	test -s envca/signet.json &&
	SIGNET_DIR=$TRASH/envca $SIGNET list | grep -q "Env Root"
'

test_expect_success 'default directory is ./signet-ca' '
	mkdir sub && (cd sub && $SIGNET init --name "Default Root" >/dev/null) &&
	test -s sub/signet-ca/signet.json &&
	(cd sub && $SIGNET list | grep -q "Default Root")
'

test_expect_success '--dir wins over $SIGNET_DIR' '
	SIGNET_DIR=$TRASH/ignored $SIGNET init --dir explicit --name "Explicit Root" >/dev/null &&
	test -s explicit/signet.json && test ! -e ignored
'

test_done
