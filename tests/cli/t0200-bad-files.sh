#!/bin/bash
# t0200-bad-files.sh - unreadable and malformed input files: each is refused
# with its documented exit code and one line on stderr naming the file.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup' '
	ca_init ca && mkcsr good "/CN=good" "DNS:good.example" &&
	$SIGNET key new --out k.key 2>/dev/null
'

test_expect_success 'sign: missing CSR file (3)' '
	expect_fail 3 "missing.csr: cannot open" $SIGNET sign missing.csr --profile server
'
test_expect_success 'csr: missing key file (3)' '
	expect_fail 3 "missing.key: cannot open" $SIGNET csr --key missing.key --subject CN=x
'
test_expect_success 'show: missing file (3)' '
	expect_fail 3 "missing.pem" $SIGNET show missing.pem
'
test_expect_success 'sign: a directory where the CSR should be (3)' '
	mkdir adir.csr && expect_fail 3 "adir.csr: is a directory" $SIGNET sign adir.csr --profile server
'
test_expect_success 'csr: a directory where the key should be (3)' '
	expect_fail 3 "adir.csr" $SIGNET csr --key adir.csr --subject CN=x
'
test_expect_success 'sign: unreadable CSR (3) when not root' '
	if [ "$(id -u)" = 0 ]; then echo "# running as root: chmod 000 does not bite, skipped"; exit 0; fi
	cp good.csr locked.csr && chmod 000 locked.csr &&
	expect_fail 3 "locked.csr" $SIGNET sign locked.csr --profile server
'

test_expect_success 'sign: malformed PEM (bad base64 in the body) (4)' '
	{ echo "-----BEGIN CERTIFICATE REQUEST-----"; echo "@@@@ not base64 @@@@"; echo "-----END CERTIFICATE REQUEST-----"; } >bad.csr &&
	expect_fail 4 "bad.csr" $SIGNET sign bad.csr --profile server
'
test_expect_success 'sign: PEM without its END line (4)' '
	head -3 good.csr >cut.csr &&
	expect_fail 4 "cut.csr" $SIGNET sign cut.csr --profile server
'
test_expect_success 'sign: an empty file (4)' '
	: >empty.csr && expect_fail 4 "empty.csr: empty file" $SIGNET sign empty.csr --profile server
'
test_expect_success 'sign: plain text garbage (4)' '
	echo "this is not a CSR" >text.csr &&
	expect_fail 4 "text.csr" $SIGNET sign text.csr --profile server
'
test_expect_success 'sign: a key where a CSR is expected (wrong PEM label) (4)' '
	expect_fail 4 "k.key: found a PEM .PRIVATE KEY. block where a certificate signing request was expected" \
		$SIGNET sign k.key --profile server
'
test_expect_success 'sign: a certificate where a CSR is expected (4)' '
	expect_fail 4 "root.crt: found a PEM .CERTIFICATE. block" $SIGNET sign ca/root.crt --profile server
'
test_expect_success 'sign: a truncated DER CSR (4)' '
	openssl req -in good.csr -outform DER -out good.der &&
	head -c 100 good.der >trunc.der &&
	expect_fail 4 "trunc.der" $SIGNET sign trunc.der --profile server
'
test_expect_success 'show: a truncated DER certificate (4)' '
	openssl x509 -in ca/root.crt -outform DER -out root.der &&
	head -c 200 root.der >trunc.crt &&
	expect_fail 4 "trunc.crt" $SIGNET show trunc.crt
'
test_expect_success 'show: a DER certificate with trailing garbage is named (4 or accepted, no crash)' '
	cat root.der root.der >double.der && c=$(exit_code $SIGNET show double.der) &&
	test $c -lt 128
'
test_expect_success 'csr: a CSR where the key is expected (4)' '
	expect_fail 4 "good.csr: not a private key" $SIGNET csr --key good.csr --subject CN=x
'
test_expect_success 'csr: a truncated key (4)' '
	head -2 k.key >tk.key && echo "-----END PRIVATE KEY-----" >>tk.key &&
	expect_fail 4 "tk.key" $SIGNET csr --key tk.key --subject CN=x
'
test_expect_success 'a malformed root.crt in the CA directory (4), naming it' '
	cp -a ca broken && echo garbage >broken/root.crt &&
	expect_fail 4 "broken/root.crt" $SIGNET sign --dir broken good.csr --profile server
'
test_expect_success 'a malformed signet.json (4), naming it' '
	cp -a ca badjson && echo "{not json" >badjson/signet.json &&
	expect_fail 4 "badjson/signet.json" $SIGNET list --dir badjson
'
test_expect_success 'the CSR from stdin being garbage (4) names stdin or -' '
	echo junk | expect_fail 4 "^signet sign: (-|stdin)" $SIGNET sign - --profile server
'
test_expect_success 'binary garbage anywhere never crashes' '
	head -c 3000 /dev/urandom >rand.bin &&
	for cmd in "show rand.bin" "sign rand.bin --profile server" "csr --key rand.bin --subject CN=x"; do
		c=$(exit_code $SIGNET $cmd 2>/dev/null) && test $c -ne 0 && test $c -lt 128 || { echo "$cmd -> $c"; exit 1; }
	done
'
test_expect_success 'nothing was recorded by any of the failures' '
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = 2
'

test_done
