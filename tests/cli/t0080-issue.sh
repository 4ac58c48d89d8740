#!/bin/bash
# t0080-issue.sh - `signet issue NAME`: key (0600) + leaf + chain in one
# step, verified by openssl; an existing key is never overwritten unless
# --force.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup' 'ca_init ca'

test_expect_success 'issue writes NAME.key (0600), NAME.crt, NAME.chain.pem' '
	$SIGNET issue web.example.com --san dns:web.example.com,ip:127.0.0.1 >out &&
	test "$(stat -c %a web.example.com.key)" = 600 &&
	test -s web.example.com.crt && test -s web.example.com.chain.pem &&
	grep -q "serial" out
'

test_expect_success 'key matches certificate; leaf verifies as server' '
	openssl x509 -in web.example.com.crt -noout -pubkey >a &&
	openssl pkey -in web.example.com.key -pubout >b && cmp a b &&
	openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt web.example.com.crt
'

test_expect_success 'chain.pem is the leaf followed by the intermediate' '
	test "$(grep -c "BEGIN CERTIFICATE" web.example.com.chain.pem)" = 2 &&
	openssl crl2pkcs7 -nocrl -certfile web.example.com.chain.pem | openssl pkcs7 -print_certs -noout >c &&
	sed -n 1p c | grep -q "CN *= *web.example.com" &&
	grep "subject" c | sed -n 2p | grep -q "Intermediate" &&
	openssl verify -CAfile ca/root.crt -untrusted web.example.com.chain.pem web.example.com.crt
'

test_expect_success 'the name is the default dns: SAN for a server' '
	$SIGNET issue api.example.com >/dev/null &&
	openssl x509 -in api.example.com.crt -noout -ext subjectAltName | grep -q "DNS:api.example.com"
'

test_expect_success 'client profile and --out-dir' '
	$SIGNET issue alice --profile client --san email:alice@example.com --out-dir people >/dev/null &&
	test "$(stat -c %a people/alice.key)" = 600 &&
	openssl verify -x509_strict -purpose sslclient -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt people/alice.crt &&
	py_check_cert client ca/intermediate.crt people/alice.crt
'

test_expect_success 'peer profile with ec-p384 key and --subject' '
	$SIGNET issue node1 --profile peer --key-type ec-p384 --subject "CN=node1,O=Mesh" \
		--san dns:node1.internal >/dev/null &&
	openssl x509 -in node1.crt -noout -text | grep -q "NIST CURVE: P-384" &&
	openssl x509 -in node1.crt -noout -subject -nameopt RFC2253 | grep -q "O=Mesh" &&
	py_check_cert peer ca/intermediate.crt node1.crt
'

test_expect_success 'an existing key is not overwritten (11)' '
	cp web.example.com.key key.before && cp web.example.com.crt crt.before &&
	n=$(sqlite3 ca/signet.db "SELECT count(*) FROM certs") &&
	expect_fail 11 "web.example.com.key already exists" $SIGNET issue web.example.com &&
	cmp key.before web.example.com.key && cmp crt.before web.example.com.crt &&
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = $n
'

test_expect_success '--force replaces key and certificate' '
	$SIGNET issue web.example.com --force >/dev/null &&
	! cmp -s key.before web.example.com.key &&
	openssl x509 -in web.example.com.crt -noout -pubkey >a &&
	openssl pkey -in web.example.com.key -pubout >b && cmp a b &&
	test "$(stat -c %a web.example.com.key)" = 600
'

test_expect_success '--encrypt-key with --key-pass-file' '
	printf "leafpw\n" >lp &&
	$SIGNET issue enc.example.com --key-pass-file lp >/dev/null &&
	head -1 enc.example.com.key | grep -qx -- "-----BEGIN ENCRYPTED PRIVATE KEY-----" &&
	openssl pkey -in enc.example.com.key -passin file:lp -noout
'

test_expect_success '--encrypt-key never takes $SIGNET_PASS_FILE (the CA passphrase) (5)' '
	test -n "$SIGNET_PASS_FILE" &&
	expect_fail 5 "give --key-pass-file FILE, or run on a terminal" \
		$SIGNET issue envkey.example.com --encrypt-key </dev/null &&
	test ! -e envkey.example.com.key && test ! -e envkey.example.com.crt
'

count_records() {
	$SIGNET list --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))"
}

test_expect_success 'a dangling link at NAME.key: refused (11) before anything is recorded' '
	before=$(count_records) &&
	ln -s /nonexistent/x.key dangle.example.com.key &&
	expect_fail 11 "dangle.example.com.key.*already exists" $SIGNET issue dangle.example.com &&
	expect_fail 11 "dangle.example.com.key.*already exists" $SIGNET issue dangle.example.com &&
	test "$(count_records)" = "$before" &&
	test -L dangle.example.com.key && test ! -e dangle.example.com.crt
'

test_expect_success 'NAME.key cannot be written (read-only --out-dir): nothing recorded (3)' '
	if [ "$(id -u)" = 0 ]; then echo "# running as root: a read-only directory does not bite, skipped"; exit 0; fi
	before=$(count_records) &&
	mkdir ro && chmod 555 ro &&
	expect_fail 3 "ro/ro.example.com.key" $SIGNET issue ro.example.com --out-dir ro &&
	test "$(count_records)" = "$before" &&
	test -z "$(ls ro)"
'

test_expect_success 'an existing NAME.crt or NAME.chain.pem is not replaced without --force (11)' '
	mkdir ex && echo keep >ex/ex.example.com.crt && echo keep >ex/ex2.example.com.chain.pem &&
	n=$($SIGNET list --json | grep -c "\"serial\"") &&
	expect_fail 11 "ex.example.com.crt already exists .*--force" \
		$SIGNET issue ex.example.com --out-dir ex &&
	expect_fail 11 "ex2.example.com.chain.pem already exists .*--force" \
		$SIGNET issue ex2.example.com --out-dir ex &&
	test "$(cat ex/ex.example.com.crt)" = keep &&
	test "$(cat ex/ex2.example.com.chain.pem)" = keep &&
	test ! -e ex/ex.example.com.key && test ! -e ex/ex2.example.com.key &&
	test "$($SIGNET list --json | grep -c "\"serial\"")" = "$n" &&
	$SIGNET issue ex.example.com --out-dir ex --force >/dev/null &&
	openssl x509 -in ex/ex.example.com.crt -noout
'

test_expect_success 'an output that is a directory is refused before anything is issued (3)' '
	mkdir cd && mkdir cd/cd.example.com.crt &&
	n=$($SIGNET list --json | grep -c "\"serial\"") &&
	expect_fail 3 "cd.example.com.crt: is a directory" \
		$SIGNET issue cd.example.com --out-dir cd --force &&
	test ! -e cd/cd.example.com.key &&
	test "$($SIGNET list --json | grep -c "\"serial\"")" = "$n"
'

test_expect_success 'a certificate that cannot be written after issuance: says it is recorded' '
	mkdir cw && ln -s /dev/full cw/cw.example.com.crt &&
	expect_fail 3 "certificate [0-9a-f]+ is issued and recorded but not written" \
		$SIGNET issue cw.example.com --out-dir cw --force &&
	test -f cw/cw.example.com.key &&
	s=$(grep -o "certificate [0-9a-f]*" $TRASH/.fail.err | cut -d" " -f2) &&
	$SIGNET export "$s" --chain cw/again.pem 2>/dev/null &&
	openssl x509 -in cw/again.pem -noout -pubkey >a &&
	openssl pkey -in cw/cw.example.com.key -pubout >b && cmp a b
'

test_expect_success 'issue --profile sub-ca is refused (2)' '
	expect_fail 2 "sub-CA" $SIGNET issue subby --profile sub-ca &&
	test ! -e subby.key
'

test_expect_success 'a NAME with a slash is refused (2)' '
	expect_fail 2 "NAME" $SIGNET issue ../evil
'

test_expect_success 'a client with no SAN and a CN is accepted' '
	$SIGNET issue bob --profile client >/dev/null &&
	openssl verify -purpose sslclient -CAfile ca/root.crt -untrusted ca/intermediate.crt bob.crt
'

test_expect_success 'a server name that is no host name needs a --san (7)' '
	expect_fail 7 "SAN" $SIGNET issue "bad_host@x" &&
	test ! -e bad_host@x.key
'

test_done
