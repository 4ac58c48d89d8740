#!/bin/bash
# t0090-show.sh - `signet show`: certificate, chain, CSR, CRL and key, PEM and
# DER, human and --json (parsed by Python), with values cross-checked
# against openssl.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

jget() { # file python-expression-on-j
	$PYTHON -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}

test_expect_success 'setup: CA, a server certificate, a CRL made by openssl' '
	ca_init ca &&
	$SIGNET issue web.example.com --san dns:web.example.com,ip:10.1.2.3 >/dev/null &&
	mkdir crlca && : >crlca/index.txt && echo 01 >crlca/crlnumber &&
	cat >crl.cnf <<-EOF &&
	[ ca ]
	default_ca = d
	[ d ]
	database = crlca/index.txt
	crlnumber = crlca/crlnumber
	default_md = sha256
	default_crl_days = 7
	EOF
	openssl ca -gencrl -config crl.cnf -cert ca/intermediate.crt -keyfile ca/intermediate.key \
		-passin file:$SIGNET_PASS_FILE -out i.crl 2>/dev/null &&
	openssl crl -in i.crl -noout
'

test_expect_success 'show certificate: subject, issuer, serial, SANs, key, extensions' '
	$SIGNET show web.example.com.crt >s.txt &&
	grep -q "subject: *CN=web.example.com" s.txt &&
	grep -q "issuer: *CN=Test Intermediate CA" s.txt &&
	serial=$(openssl x509 -in web.example.com.crt -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
	grep -q "serial: *$serial" s.txt &&
	grep -q "dns:web.example.com, ip:10.1.2.3" s.txt &&
	grep -q "EC P-256" s.txt &&
	grep -q "days_left: *36[45]" s.txt &&
	grep -q "Basic Constraints" s.txt && grep -q "Extended Key Usage" s.txt &&
	grep -q "Authority Key Identifier" s.txt
'

test_expect_success 'show --json certificate parses and matches openssl' '
	$SIGNET show --json web.example.com.crt >s.json &&
	fp=$(openssl x509 -in web.example.com.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) &&
	test "$(jget s.json "j[\"sha256_fingerprint\"] if isinstance(j, dict) else j[0][\"sha256_fingerprint\"]")" = "$fp" &&
	test "$(jget s.json "(j if isinstance(j, dict) else j[0])[\"kind\"]")" = certificate
'

test_expect_success 'show a DER certificate' '
	openssl x509 -in web.example.com.crt -outform DER -out w.der &&
	$SIGNET show w.der | grep -q "CN=web.example.com" &&
	$SIGNET show --json w.der >d.json && jget d.json "1"
'

test_expect_success 'show a chain lists every certificate' '
	cat web.example.com.chain.pem ca/root.crt >full.pem &&
	$SIGNET show full.pem >c.txt &&
	grep -q "CN=web.example.com" c.txt && grep -q "Test Intermediate CA" c.txt &&
	grep -q "self_signed: *yes" c.txt &&
	$SIGNET show --json full.pem >c.json &&
	test "$(jget c.json "len(j) if isinstance(j, list) else len(j[\"certificates\"])")" = 3
'

test_expect_success 'show a CSR (PEM and DER)' '
	mkcsr r "/CN=req.example.com" "DNS:req.example.com" &&
	$SIGNET show r.csr >r.txt && grep -q "CN=req.example.com" r.txt &&
	$SIGNET show --json r.csr >r.json &&
	test "$(jget r.json "j[\"kind\"]")" = csr &&
	test "$(jget r.json "j[\"signature_valid\"]")" = True &&
	openssl req -in r.csr -outform DER -out r.der &&
	$SIGNET show --json r.der >rd.json && test "$(jget rd.json "j[\"kind\"]")" = csr
'

test_expect_success 'show a CRL made by openssl ca -gencrl' '
	$SIGNET show i.crl >crl.txt && grep -q "Test Intermediate CA" crl.txt &&
	$SIGNET show --json i.crl >crl.json &&
	test "$(jget crl.json "j[\"kind\"]")" = crl &&
	test "$(jget crl.json "j[\"revoked_count\"]")" = 0 &&
	openssl crl -in i.crl -outform DER -out i.crl.der &&
	$SIGNET show --json i.crl.der >crld.json && test "$(jget crld.json "j[\"kind\"]")" = crl
'

test_expect_success 'show a CRL with a revoked entry: serial and reason' '
	openssl ca -config crl.cnf -cert ca/intermediate.crt -keyfile ca/intermediate.key \
		-passin file:$SIGNET_PASS_FILE -revoke web.example.com.crt -crl_reason keyCompromise 2>/dev/null &&
	openssl ca -gencrl -config crl.cnf -cert ca/intermediate.crt -keyfile ca/intermediate.key \
		-passin file:$SIGNET_PASS_FILE -out r.crl 2>/dev/null &&
	$SIGNET show --json r.crl >rc.json &&
	serial=$(openssl x509 -in web.example.com.crt -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
	test "$(jget rc.json "j[\"revoked_count\"]")" = 1 &&
	test "$(jget rc.json "j[\"revoked\"][0][\"serial\"]")" = "$serial" &&
	test "$(jget rc.json "j[\"revoked\"][0][\"reason\"]")" = 1
'

test_expect_success 'show a key: type, no secret printed' '
	$SIGNET show web.example.com.key >k.txt &&
	grep -q "EC P-256" k.txt &&
	! grep -q "PRIVATE" k.txt &&
	$SIGNET show --json web.example.com.key >k.json &&
	test "$(jget k.json "j[\"kind\"]")" = "private key" &&
	test "$(jget k.json "j[\"encrypted\"]")" = False
'

test_expect_success 'show an encrypted key with and without passphrase' '
	$SIGNET show --json ca/root.key >ek.json &&
	test "$(jget ek.json "j[\"encrypted\"]")" = True &&
	$SIGNET show --pass-file $SIGNET_PASS_FILE ca/root.key | grep -q "EC P-256"
'

test_expect_success 'show - reads stdin' '
	$SIGNET show - <web.example.com.crt | grep -q "CN=web.example.com"
'

test_expect_success 'show a missing file fails (3) with one line naming it' '
	expect_fail 3 "nope.crt" $SIGNET show nope.crt
'

test_expect_success 'show garbage fails (4) with one line' '
	echo "hello world" >junk.txt &&
	expect_fail 4 "junk.txt" $SIGNET show junk.txt
'

test_done
