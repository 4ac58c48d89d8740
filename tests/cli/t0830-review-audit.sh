#!/bin/bash
# t0830-review-audit.sh - what a user-level audit found, one check each:
# revocation dates a CRL cannot hold, a name several valid certificates
# share, SAN types signet cannot check, the chain of a certificate the root
# signed, a refused OCSP connection, `help --help`.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup' '
	$SIGNET init --name "Audit Root" --intermediate --no-passphrase >/dev/null 2>&1 &&
	$SIGNET issue t2 --profile client >/dev/null && echo pw >pw
'

test_expect_success 'revoke --at past the year 9999, or not a date, is refused (2)' '
	expect_fail 2 "--at takes a TIME" $SIGNET revoke t2 --at @253402300800 &&
	expect_fail 2 "--at takes a TIME" $SIGNET revoke t2 --at @99999999999999 &&
	expect_fail 2 "--at takes a TIME" $SIGNET revoke t2 --at 2026-02-30 &&
	expect_fail 2 "--invalidity-date takes a TIME" \
		$SIGNET revoke t2 --invalidity-date @99999999999999 &&
	expect_fail 2 "--at is in the future" $SIGNET revoke t2 --at 9999-12-31 &&
	expect_fail 2 "--invalidity-date is in the future" \
		$SIGNET revoke t2 --invalidity-date "$(date -u -d "+2 days" +%Y-%m-%d)" &&
	test "$($SIGNET list --status revoked --json)" = "[]"
'

test_expect_success 'a past date is taken, and the CRL carries it (1 entry)' '
	$SIGNET revoke t2 --at 2025-12-31T23:59:59Z --invalidity-date 2025-12-01 >/dev/null &&
	$SIGNET crl --out c.pem 2>err && grep -q "1 entry," err &&
	openssl crl -in c.pem -noout -text >crl.txt &&
	grep -q "Dec 31 23:59:59 2025 GMT" crl.txt && grep -q "Dec  1 00:00:00 2025 GMT" crl.txt
'

test_expect_success 'revoke NAME that several valid certificates carry is refused (2)' '
	for i in 1 2 3; do $SIGNET issue dup --profile client --force >/dev/null || return 1; done &&
	expect_fail 2 "names 3 valid certificates; revoke each by serial" $SIGNET revoke dup &&
	test "$($SIGNET list --status revoked --json | grep -c "\"serial\"")" = 1 &&
	s=$(openssl x509 -in dup.crt -noout -serial | cut -d= -f2) &&
	$SIGNET revoke "$s" >/dev/null
'

test_expect_success 'a CSR asking for an otherName or registeredID SAN is refused (7)' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout u.key \
		-out upn.csr -subj /CN=bob 2>/dev/null \
		-addext "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:administrator@corp.example" &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout r.key \
		-out rid.csr -subj /CN=r 2>/dev/null -addext "subjectAltName=DNS:r.example,RID:1.2.3.4" &&
	expect_fail 7 "asks for an otherName SAN; signet certifies only dns:" \
		$SIGNET sign upn.csr --profile client &&
	expect_fail 7 "asks for a registeredID SAN" $SIGNET sign rid.csr --profile server &&
	$SIGNET sign rid.csr --profile server --san dns:r.example --out r.crt &&
	openssl x509 -in r.crt -noout -ext subjectAltName >san.txt &&
	grep -q "DNS:r.example" san.txt && ! grep -q "Registered" san.txt
'

test_expect_success 'export of a sub-CA the root signed: no intermediate in its chain or PKCS#12' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sub.key \
		-out sub.csr -subj "/CN=Sub CA" 2>/dev/null &&
	$SIGNET sign sub.csr --profile sub-ca --issuer root --name sub --out sub.crt &&
	$SIGNET export sub --chain sub.chain &&
	test "$(grep -c BEGIN sub.chain)" = 1 &&
	openssl verify -x509_strict -CAfile ca/root.crt sub.chain &&
	$SIGNET export sub --p12 sub.p12 --key sub.key --p12-pass-file pw 2>/dev/null &&
	openssl pkcs12 -in sub.p12 -passin file:pw -nokeys | grep "^subject" >p12.txt &&
	test "$(wc -l <p12.txt)" = 2 && ! grep -q Intermediate p12.txt
'

test_expect_success 'export of a leaf the intermediate signed: leaf + intermediate; root in the PKCS#12' '
	$SIGNET issue leaf --profile client >/dev/null &&
	$SIGNET export leaf --chain leaf.chain &&
	test "$(grep -c BEGIN leaf.chain)" = 2 &&
	openssl verify -x509_strict -CAfile ca/root.crt -untrusted leaf.chain leaf.chain &&
	$SIGNET export leaf --p12 leaf.p12 --p12-pass-file pw 2>/dev/null &&
	test "$(openssl pkcs12 -in leaf.p12 -passin file:pw -nokeys | grep -c "^subject")" = 3
'

test_expect_success 'ocsp check against a port nobody listens on fails at once (12)' '
	port=$(free_port) && start=$(date +%s) &&
	expect_fail 12 "cannot connect to 127.0.0.1 port $port: Connection refused" \
		$SIGNET ocsp check leaf.crt --issuer ca/intermediate.crt --trust ca/root.crt \
			--url http://127.0.0.1:$port/ &&
	test $(( $(date +%s) - start )) -lt 5
'

test_expect_success 'help --help and help help print the help command usage' '
	$SIGNET help --help >h1 && grep -q "usage: signet help" h1 &&
	$SIGNET help help >h2 && cmp h1 h2
'

test_expect_success 'init refuses bad email/URI constraints, URLs and databases in one line (4, 2)' '
	for v in "" "@@" "a b" "x@" "@example.com"; do
		expect_fail 4 "name constraint .email:.* is invalid" \
			$SIGNET init --name N --no-passphrase --dir bad --permit-email "$v" || return 1
	done &&
	expect_fail 2 "--crl-url .not a url. is not an http:// or https:// URL" \
		$SIGNET init --name N --no-passphrase --dir bad --crl-url "not a url" &&
	expect_fail 2 "--ocsp-url .. is not an http" \
		$SIGNET init --name N --no-passphrase --dir bad --ocsp-url "" &&
	expect_fail 2 "--database .mysql://x.: signet keeps its records in SQLite" \
		$SIGNET init --name N --no-passphrase --dir bad --database mysql://x &&
	test ! -e bad &&
	$SIGNET init --name N --no-passphrase --dir good --permit-email alice@example.com \
		--permit-email .example.org --crl-url http://crl.example.com/ca.crl 2>err >/dev/null &&
	grep -q "UNENCRYPTED" err &&
	openssl x509 -in good/root.crt -noout -ext nameConstraints >nc.txt &&
	grep -q "email:alice@example.com" nc.txt && grep -q "email:.example.org" nc.txt
'

test_expect_success 'an empty --san is refused instead of dropping the CSR names (4)' '
	mkcsr e "/CN=e" "DNS:e.example" &&
	expect_fail 4 "the SAN list is empty" $SIGNET sign e.csr --profile client --san "" &&
	expect_fail 4 "the SAN list is empty" $SIGNET issue e2 --san " , "
'

test_expect_success 'verify: an empty --host or an --email without @ is a usage error (2)' '
	expect_fail 2 "--host needs a name" $SIGNET verify leaf.crt --trust ca/root.crt --host "" &&
	expect_fail 2 "--email .noat. is not an address" \
		$SIGNET verify leaf.crt --trust ca/root.crt --email noat
'

test_expect_success 'a passphrase file with a NUL byte is refused, not cut short (5)' '
	printf "a\000b\n" >nul.pass &&
	expect_fail 5 "nul.pass: passphrase file is binary" \
		$SIGNET key new --encrypt --pass-file nul.pass --out nul.key &&
	test ! -e nul.key
'

test_expect_success 'an encrypted key cut short is malformed (4), a wrong passphrase is 5' '
	$SIGNET key new --encrypt --pass-file pw --out enc.key 2>/dev/null &&
	head -n 3 enc.key >cut.key && echo wrong >wrong.pass &&
	expect_fail 4 "cut.key: malformed encrypted private key" \
		$SIGNET csr --key cut.key --subject CN=x --pass-file pw &&
	expect_fail 5 "enc.key: wrong passphrase" \
		$SIGNET csr --key enc.key --subject CN=x --pass-file wrong.pass &&
	$SIGNET csr --key enc.key --subject CN=x --pass-file pw >/dev/null
'

test_expect_success '--days out of range names the range (2)' '
	expect_fail 2 "--days takes a number of days from 1 to 36500, not .50000." \
		$SIGNET issue d --days 50000
'

test_expect_success 'crl into a missing directory fails before a CRL number is taken (3)' '
	$SIGNET crl --out n1.pem 2>err && n1=$(sed -n "s/.*CRL number \([0-9]*\).*/\1/p" err) &&
	expect_fail 3 "nx/c.pem: cannot create" $SIGNET crl --out nx/c.pem &&
	$SIGNET crl --out n2.pem 2>err && n2=$(sed -n "s/.*CRL number \([0-9]*\).*/\1/p" err) &&
	test "$n2" = $((n1 + 1))
'

test_expect_success 'a failed batch removes the --out-dir it made; an existing one stays' '
	mkcsr b1 "/CN=b1" "DNS:b1.example" && echo junk >b2.csr &&
	expect_fail 4 "b2.csr" $SIGNET sign b1.csr b2.csr --profile server --out-dir fresh &&
	test ! -e fresh && mkdir kept &&
	expect_fail 4 "b2.csr" $SIGNET sign b1.csr b2.csr --profile server --out-dir kept &&
	test -d kept
'

test_expect_success 'export of a revoked certificate warns' '
	$SIGNET issue gone --profile client >/dev/null && $SIGNET revoke gone >/dev/null &&
	$SIGNET export gone --chain gone.pem 2>err && grep -q "is revoked" err && test -s gone.pem
'

test_expect_success 'a CSR signed with MD5 is refused (7); a bad signature is 6 without OpenSSL noise' '
	openssl genrsa -out r.key 2048 2>/dev/null &&
	openssl req -new -key r.key -md5 -subj /CN=md5 -addext subjectAltName=DNS:md5.example \
		-out md5.csr 2>/dev/null &&
	expect_fail 7 "the CSR is signed with MD5" $SIGNET sign md5.csr --profile server &&
	openssl req -in b1.csr -outform DER -out b1.der &&
	"$PYTHON" -c "import sys; d=bytearray(open(sys.argv[1],\"rb\").read()); d[-3]^=1; open(sys.argv[2],\"wb\").write(d)" b1.der flip.der &&
	openssl req -inform DER -in flip.der -out flip.csr 2>/dev/null &&
	expect_fail 6 "CSR signature does not verify \(the request was altered or signed by another key\)$" \
		$SIGNET sign flip.csr --profile server
'

test_expect_success 'sign --name must be 1 to 255 printable characters (2)' '
	expect_fail 2 "--name takes 1 to 255 printable characters" \
		$SIGNET sign b1.csr --profile server --name "" &&
	expect_fail 2 "--name takes 1 to 255" $SIGNET sign b1.csr --profile server --name "$(printf "a\nb")"
'

test_expect_success 'the default validity ends with a short-lived issuing CA; an explicit one must fit (7)' '
	$SIGNET init --name Short --days 1 --intermediate --no-passphrase --dir short >/dev/null 2>&1 &&
	$SIGNET issue s.example --dir short >/dev/null &&
	test "$(openssl x509 -in s.example.crt -noout -enddate)" = \
		"$(openssl x509 -in short/intermediate.crt -noout -enddate)" &&
	openssl verify -x509_strict -CAfile short/root.crt -untrusted short/intermediate.crt s.example.crt &&
	expect_fail 7 "2 days would outlive the issuing CA" $SIGNET issue s2.example --dir short --days 2
'

test_expect_success 'subjects: RFC 4514 hex escapes, multi-valued RDNs; a trailing backslash or a control character is refused (4)' '
	$SIGNET csr --key b1.key --subject "CN=\41b,O=x" >h.csr &&
	openssl req -in h.csr -noout -subject -nameopt RFC2253 | grep -q "CN=Ab$" &&
	$SIGNET csr --key b1.key --subject "CN=a+OU=u,O=o" >m.csr &&
	openssl req -in m.csr -noout -subject -nameopt RFC2253 | grep -q "OU=u+CN=a" &&
	$SIGNET csr --key b1.key --subject "CN=a\+b" >p.csr &&
	openssl req -in p.csr -noout -subject -nameopt RFC2253 | grep -q "CN=a\\\\+b" &&
	expect_fail 4 "a trailing backslash escapes nothing" $SIGNET csr --key b1.key --subject "CN=x\\" &&
	expect_fail 4 "holds a control character" $SIGNET csr --key b1.key --subject "CN=a\\0b" &&
	expect_fail 4 "nothing after" $SIGNET csr --key b1.key --subject "CN=a+"
'

test_expect_success 'ocsp check with no root to check the responder against is a usage error (2)' '
	expect_fail 2 "holds no root certificate to check the responder.s signature with" \
		$SIGNET ocsp check leaf.crt --issuer ca/intermediate.crt --url http://127.0.0.1:1/
'

test_done
