#!/bin/bash
# t5000-verify-pki: a good root -> intermediate -> leaf chain verifies, in
# every way it can be given.  Sourced by the other t50xx-verify scenarios
# for make_pki/make_leaf (certificates made with the openssl CLI, so the
# verifier is not checked against certificates it made itself).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# make_ca NAME ISSUER [extra ext lines]: ISSUER "self" for a root.
make_ca() {
	local name=$1 issuer=$2
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
	{
		echo "basicConstraints=critical,CA:TRUE"
		echo "keyUsage=critical,keyCertSign,cRLSign"
		echo "subjectKeyIdentifier=hash"
		[ "$issuer" = self ] || echo "authorityKeyIdentifier=keyid:always"
		shift 2; for l in "$@"; do echo "$l"; done
	} >"$name.ext"
	if [ "$issuer" = self ]; then
		openssl req -new -x509 -key "$name.key" -subj "/CN=$name" -days 3650 \
			-extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$name.ext") \
			-out "$name.pem" 2>/dev/null
	else
		openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
		openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
			-CAcreateserial -days 1825 -sha256 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
	fi
}

# make_leaf NAME ISSUER SAN EKU [keyalg-opts...]; $LEAF_EXTRA: one more ext line
make_leaf() {
	local name=$1 issuer=$2 san=$3 eku=$4
	shift 4
	if [ $# -gt 0 ]; then
		openssl genpkey "$@" -out "$name.key" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
	fi
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' \
		"$eku" "$san" >"$name.ext"
	[ -z "${LEAF_EXTRA:-}" ] || echo "$LEAF_EXTRA" >>"$name.ext"
	openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
		-CAcreateserial -days ${LEAF_DAYS:-30} -${LEAF_MD:-sha256} -extfile "$name.ext" \
		-out "$name.pem" 2>/dev/null
}

make_pki() {
	make_ca root self &&
	make_ca inter root "basicConstraints=critical,CA:TRUE,pathlen:0" &&
	make_leaf www inter "DNS:www.example.com,DNS:*.cdn.example.com,IP:127.0.0.1" serverAuth
}

# Only the scenarios below when run as a test, not when sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then

test_expect_success 'setup: root, intermediate, server leaf made by openssl' '
	make_pki && test -s www.pem && test -s inter.pem && test -s root.pem
'

test_expect_success 'a good chain is trusted (exit 0) and printed' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host www.example.com >out &&
	grep "trusted" out && grep "intermediate" out && grep "anchor .*CN=root" out
'

test_expect_success 'openssl agrees the chain is good (oracle)' '
	openssl verify -x509_strict -CAfile root.pem -untrusted inter.pem www.pem
'

test_expect_success 'Python cryptography agrees too, when installed (oracle)' '
	if [ -z "$PYTHON" ]; then exit 0; fi
	"$PYTHON" - <<-PY
	from cryptography import x509
	from cryptography.x509.verification import PolicyBuilder, Store
	load = lambda f: x509.load_pem_x509_certificate(open(f, "rb").read())
	v = PolicyBuilder().store(Store([load("root.pem")])).build_server_verifier(x509.DNSName("www.example.com"))
	v.verify(load("www.pem"), [load("inter.pem")])
	PY
'

test_expect_success 'intermediates may follow the leaf in the same file' '
	cat www.pem inter.pem >fullchain.pem &&
	"$SIGNET" verify fullchain.pem --trust root.pem --host www.example.com
'

test_expect_success '"-" reads the certificate from stdin' '
	cat www.pem inter.pem | "$SIGNET" verify - --trust root.pem --host www.example.com
'

test_expect_success 'a directory of anchors works as --trust' '
	mkdir anchors && cp root.pem anchors/ &&
	"$SIGNET" verify www.pem --chain inter.pem --trust anchors
'

test_expect_success '--json prints the chain built and every check' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host www.example.com --json >out.json &&
	"${PYTHON:-python3}" -c "
import json; r = json.load(open(\"out.json\"))
assert r[\"trusted\"] is True, r
assert [c[\"role\"] for c in r[\"chain\"]] == [\"leaf\", \"intermediate\", \"anchor\"], r
names = {c[\"check\"] for c in r[\"checks\"]}
assert {\"validity\", \"profile\", \"constraints\", \"name\"} <= names, names
"
'

test_expect_code 25 '--max-depth 0 refuses a chain with one intermediate' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --max-depth 0 2>err ||
	{ c=$?; grep "maximum chain depth" err && exit $c; }
'

test_expect_success '--max-depth 1 allows it' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --max-depth 1
'

test_expect_success '--help describes the options' '
	"$SIGNET" verify --help >out && grep -- "--trust" out && grep -- "--crl" out
'

test_done
fi
