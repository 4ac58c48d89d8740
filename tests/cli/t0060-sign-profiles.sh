#!/bin/bash
# t0060-sign-profiles.sh - `signet sign` under each profile, checked by three
# independent implementations: openssl verify -x509_strict with the right
# purpose, GnuTLS certtool --verify-chain, and Python cryptography.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

verify() { # purpose cert
	openssl verify -x509_strict -purpose "$1" -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt "$2"
}
gnutls_verify() { # cert
	cat "$1" ca/intermediate.crt ca/root.crt >gt.pem &&
	certtool --verify-chain --infile gt.pem >gt.out 2>&1 &&
	grep -q "Chain verification output: Verified" gt.out
}

test_expect_success 'setup: CA and CSRs made by openssl' '
	ca_init ca &&
	mkcsr srv "/CN=srv.example.com/O=Example" "DNS:srv.example.com,IP:127.0.0.1" &&
	mkcsr cli "/CN=alice" "email:alice@example.com" &&
	mkcsr peer "/CN=node1" "DNS:node1.mesh.internal,URI:spiffe://mesh/node1" &&
	mkcsr sub "/CN=Team Sub CA"
'

test_expect_success 'server: sign, openssl sslserver purpose' '
	$SIGNET sign srv.csr --profile server --out srv.crt --chain srv.chain.pem &&
	verify sslserver srv.crt &&
	! verify sslclient srv.crt >/dev/null 2>&1
'

test_expect_success 'server: certtool verifies the chain' 'gnutls_verify srv.crt'
test_expect_success 'server: python cryptography checks serial and extensions' '
	py_check_cert server ca/intermediate.crt srv.crt
'

test_expect_success 'server: SANs and subject are carried over' '
	openssl x509 -in srv.crt -noout -ext subjectAltName | grep -q "DNS:srv.example.com, IP Address:127.0.0.1" &&
	openssl x509 -in srv.crt -noout -subject -nameopt RFC2253 | grep -q "CN=srv.example.com"
'

test_expect_success 'server: --chain holds the leaf then the intermediate' '
	test "$(grep -c "BEGIN CERTIFICATE" srv.chain.pem)" = 2 &&
	openssl x509 -in srv.chain.pem -noout -fingerprint >a && openssl x509 -in srv.crt -noout -fingerprint >b &&
	cmp a b &&
	openssl verify -CAfile ca/root.crt -untrusted srv.chain.pem srv.crt
'

test_expect_success 'client: sslclient purpose, not sslserver' '
	$SIGNET sign cli.csr --profile client --out cli.crt &&
	verify sslclient cli.crt &&
	! verify sslserver cli.crt >/dev/null 2>&1 &&
	gnutls_verify cli.crt &&
	py_check_cert client ca/intermediate.crt cli.crt
'

test_expect_success 'peer: both purposes' '
	$SIGNET sign peer.csr --profile peer --out peer.crt &&
	verify sslclient peer.crt && verify sslserver peer.crt &&
	gnutls_verify peer.crt &&
	py_check_cert peer ca/intermediate.crt peer.crt &&
	openssl x509 -in peer.crt -noout -ext subjectAltName | grep -q "URI:spiffe://mesh/node1"
'

test_expect_success 'sub-ca: signed by the root (--issuer root), pathlen:0' '
	$SIGNET sign sub.csr --profile sub-ca --issuer root --out sub.crt &&
	openssl verify -x509_strict -CAfile ca/root.crt sub.crt &&
	openssl x509 -in sub.crt -noout -text | grep -A1 "Basic Constraints: critical" | grep -q "CA:TRUE, pathlen:0" &&
	py_check_cert sub-ca ca/root.crt sub.crt &&
	cat sub.crt ca/root.crt >st.pem && certtool --verify-chain --infile st.pem | grep -q "Verified"
'

test_expect_success 'sub-ca: the intermediate (pathlen:0) cannot sign one (7)' '
	expect_fail 7 "pathlen:0" $SIGNET sign sub.csr --profile sub-ca --out sub2.crt &&
	test ! -e sub2.crt
'

test_expect_success 'the sub-CA can issue a leaf openssl accepts through it' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key \
		-subj /CN=leaf -out l.csr 2>/dev/null &&
	openssl x509 -req -in l.csr -CA sub.crt -CAkey sub.key -days 1 -out l.crt \
		-extfile <(printf "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:leaf.example\n") 2>/dev/null &&
	openssl verify -CAfile ca/root.crt -untrusted sub.crt l.crt
'

test_expect_success 'an RSA CSR: server cert gets keyEncipherment, client does not' '
	openssl req -new -newkey rsa:2048 -nodes -keyout r.key -subj /CN=rsa \
		-addext subjectAltName=DNS:rsa.example -out r.csr 2>/dev/null &&
	$SIGNET sign r.csr --profile server --out rs.crt &&
	openssl x509 -in rs.crt -noout -ext keyUsage | grep -q "Key Encipherment" &&
	$SIGNET sign r.csr --profile client --out rc.crt &&
	! openssl x509 -in rc.crt -noout -ext keyUsage | grep -q "Key Encipherment" &&
	verify sslserver rs.crt && verify sslclient rc.crt
'

test_expect_success 'an Ed25519 CSR made by signet is signed and verifies' '
	$SIGNET key new --type ed25519 --out ed.key 2>/dev/null &&
	$SIGNET csr --key ed.key --subject CN=ed --san dns:ed.example --out ed.csr &&
	$SIGNET sign ed.csr --profile server --out ed.crt &&
	verify sslserver ed.crt && py_check_cert server ca/intermediate.crt ed.crt
'

test_expect_success '--san replaces the CSR SANs' '
	$SIGNET sign srv.csr --profile server --san dns:other.example.com --out o.crt &&
	openssl x509 -in o.crt -noout -ext subjectAltName >o.txt &&
	grep -q "DNS:other.example.com" o.txt && ! grep -q "srv.example.com" o.txt
'

test_expect_success 'a server CSR without any DNS/IP SAN is refused (7)' '
	expect_fail 7 "needs at least one dns: or ip: SAN" $SIGNET sign cli.csr --profile server --out x.crt
'

test_expect_success 'sign reads the CSR from stdin and writes stdout' '
	$SIGNET sign - --profile server <srv.csr >stdout.crt &&
	verify sslserver stdout.crt
'

test_expect_success 'a DER CSR is accepted' '
	openssl req -in srv.csr -outform DER -out srv.der &&
	$SIGNET sign srv.der --profile server --out der.crt && verify sslserver der.crt
'

test_expect_success '--days sets the validity' '
	$SIGNET sign srv.csr --profile server --days 30 --out d30.crt &&
	end=$(date -d "$(openssl x509 -in d30.crt -noout -enddate | cut -d= -f2)" +%s) &&
	d=$(( (end - $(date +%s)) / 86400 )) && test $d -ge 29 && test $d -le 30
'

test_expect_success '--days beyond the issuing CA lifetime is refused (7)' '
	expect_fail 7 "outlive" $SIGNET sign srv.csr --profile server --days 3000 --out long.crt &&
	test ! -e long.crt
'

test_expect_success '--days 0 or junk is a usage error (2)' '
	expect_fail 2 "days" $SIGNET sign srv.csr --profile server --days 0 &&
	expect_fail 2 "days" $SIGNET sign srv.csr --profile server --days 10x
'

test_expect_success 'every signed certificate is recorded with its profile' '
	$SIGNET list --json >l.json &&
	$PYTHON - <<-PY
	import json
	recs = json.load(open("l.json"))
	by = {}
	for r in recs: by.setdefault(r["profile"], []).append(r)
	assert set(by) >= {"server", "client", "peer", "sub-ca", "root", "intermediate"}, by.keys()
	assert len({r["serial"] for r in recs}) == len(recs)
	PY
'

test_done
