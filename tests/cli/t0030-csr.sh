#!/bin/bash
# t0030-csr.sh - `signet csr`: PKCS#10 that `openssl req -verify` accepts,
# with the subject and every SAN type visible to openssl; the key may come
# from stdin and may be encrypted.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"

test_expect_success 'setup: a key' '
	$SIGNET key new --out k.key 2>/dev/null
'

test_expect_success 'csr verifies with openssl req -verify' '
	$SIGNET csr --key k.key --subject "CN=api.example.com,O=Example Inc,C=DE" --out a.csr &&
	req_ok a.csr
'

test_expect_success 'subject is as written' '
	openssl req -in a.csr -noout -subject -nameopt RFC2253 >subj &&
	grep -q "CN=api.example.com" subj && grep -q "O=Example Inc" subj && grep -q "C=DE" subj
'

test_expect_success 'all four SAN types appear in openssl req -text' '
	$SIGNET csr --key k.key --subject CN=svc \
		--san dns:svc.example.com,ip:10.0.0.1,email:ops@example.com \
		--san uri:spiffe://example.com/ns/prod/sa/svc,ip:2001:db8::1 --out s.csr &&
	req_ok s.csr &&
	openssl req -in s.csr -noout -text >t &&
	grep -q "DNS:svc.example.com" t && grep -q "IP Address:10.0.0.1" t &&
	grep -q "email:ops@example.com" t &&
	grep -q "URI:spiffe://example.com/ns/prod/sa/svc" t &&
	grep -q "IP Address:2001:DB8:0:0:0:0:0:1" t
'

test_expect_success 'the CSR public key is the key given' '
	openssl req -in s.csr -pubkey -noout >csr.pub &&
	openssl pkey -in k.key -pubout >key.pub &&
	cmp csr.pub key.pub
'

test_expect_success 'OpenSSL-style /CN=x/O=y subject and escaped comma' '
	$SIGNET csr --key k.key --subject "/CN=x/O=Acme, Inc" --out b.csr &&
	openssl req -in b.csr -noout -subject -nameopt RFC2253 | grep -q "O=Acme\\\\, Inc" &&
	$SIGNET csr --key k.key --subject "CN=y,O=Acme\\, Inc" --out c.csr &&
	openssl req -in c.csr -noout -subject -nameopt RFC2253 | grep -q "O=Acme\\\\, Inc,CN=y"
'

test_expect_success '--key - reads the key from stdin; no --out writes stdout' '
	$SIGNET csr --key - --subject CN=stdin <k.key >d.csr &&
	req_ok d.csr
'

test_expect_success 'key new piped into csr (- on both sides)' '
	$SIGNET key new | $SIGNET csr --key - --subject CN=pipe --out - >e.csr &&
	req_ok e.csr
'

for t in ec-p384 ed25519 rsa-2048; do
	test_expect_success "csr with a $t key verifies" "
		\$SIGNET key new --type $t --out $t.key 2>/dev/null &&
		\$SIGNET csr --key $t.key --subject CN=$t --out $t.csr &&
		req_ok $t.csr
	"
done

test_expect_success 'an encrypted key with --pass-file' '
	printf "pw\n" >pw &&
	$SIGNET key new --encrypt --pass-file pw --out enc.key 2>/dev/null &&
	$SIGNET csr --key enc.key --pass-file pw --subject CN=enc --out enc.csr &&
	req_ok enc.csr
'

test_expect_success 'an encrypted key with a wrong passphrase fails (5)' '
	printf "nope\n" >bad &&
	expect_fail 5 "enc.key: wrong passphrase" $SIGNET csr --key enc.key --pass-file bad --subject CN=x --out x.csr &&
	test ! -e x.csr
'

test_expect_success 'a key made by openssl (traditional EC PEM) is accepted' '
	openssl ecparam -name prime256v1 -genkey -noout -out trad.key &&
	$SIGNET csr --key trad.key --subject CN=trad --out trad.csr &&
	req_ok trad.csr
'

test_expect_success 'missing --subject is a usage error (2)' '
	expect_fail 2 "subject" $SIGNET csr --key k.key
'

test_expect_success 'unknown subject attribute is refused (4)' '
	expect_fail 4 "unknown attribute .XX" $SIGNET csr --key k.key --subject "CN=a,XX=b"
'

test_expect_success 'a three-letter country is refused (4)' '
	expect_fail 4 "two-letter" $SIGNET csr --key k.key --subject "CN=a,C=DEU"
'

test_expect_success 'a certificate where the key is expected is refused (4)' '
	openssl req -x509 -key k.key -subj /CN=c -days 1 -out c.crt &&
	expect_fail 4 "c.crt: not a private key" $SIGNET csr --key c.crt --subject CN=x
'

test_done
