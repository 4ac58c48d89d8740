#!/bin/bash
# t0050-init-constraints.sh - name constraints put into the CA certificates
# by --permit-dns/--exclude-dns are enforced by `signet sign` (exit 7) and
# by independent verifiers; a second init never clobbers an existing CA.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

test_expect_success 'init --permit-dns puts name constraints in root and intermediate' '
	ca_init ca --permit-dns .example.com --exclude-dns secret.example.com 2>init.err &&
	grep -q "warning: .example.com is written as example.com" init.err &&
	for c in root intermediate; do
		openssl x509 -in ca/$c.crt -noout -text >$c.txt &&
		grep -q "X509v3 Name Constraints: critical" $c.txt &&
		grep -A2 "Permitted" $c.txt | grep -qx " *DNS:example.com" &&
		grep -A2 "Excluded" $c.txt | grep -qx " *DNS:secret.example.com" || exit 1
	done &&
	grep -q "\"dns:example.com\"" ca/signet.json
'

test_expect_success 'a name inside the tree is signed and verifies' '
	export SIGNET_DIR=$TRASH/ca &&
	mkcsr in "/CN=api.example.com" "DNS:api.example.com" &&
	$SIGNET sign in.csr --profile server --out in.crt &&
	openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt in.crt
'

# Regression: ".example.com" went into the certificates as written, a
# constraint RFC 5280 calls malformed; signet verify (like rustls/webpki)
# refused every chain of such a CA (exit 28).
test_expect_success 'signet verify accepts the chain of a CA made with --permit-dns .DOMAIN' '
	$SIGNET verify in.crt --chain ca/intermediate.crt --trust ca/root.crt \
		--host api.example.com
'

test_expect_success 'a name outside the tree is refused (7) and not recorded' '
	export SIGNET_DIR=$TRASH/ca &&
	before=$($SIGNET list --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))") &&
	mkcsr out "/CN=evil.org" "DNS:evil.org" &&
	expect_fail 7 "dns:evil.org is outside" $SIGNET sign out.csr --profile server --out out.crt &&
	test ! -e out.crt &&
	after=$($SIGNET list --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))") &&
	test "$before" = "$after"
'

test_expect_success 'a --san override outside the tree is refused too (7)' '
	expect_fail 7 "outside" $SIGNET sign --dir ca in.csr --profile server --san dns:www.other.net --out x.crt
'

test_expect_success 'the apex of a .example.com constraint is inside (RFC 5280 has no subdomains-only form)' '
	$SIGNET sign --dir ca in.csr --profile server --san dns:example.com --out apex.crt &&
	openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt \
		-untrusted ca/intermediate.crt apex.crt &&
	$SIGNET verify apex.crt --chain ca/intermediate.crt --trust ca/root.crt --host example.com
'

test_expect_success 'an excluded subtree is refused (7)' '
	expect_fail 7 "excluded" $SIGNET sign --dir ca in.csr --profile server --san dns:db.secret.example.com --out x.crt
'

test_expect_success 'openssl itself rejects an out-of-tree name under these CAs' '
	openssl req -new -key in.key -subj /CN=evil -out e.csr &&
	openssl x509 -req -in e.csr -CA ca/intermediate.crt -CAkey ca/intermediate.key \
		-passin file:$SIGNET_PASS_FILE -days 1 -out e.crt \
		-extfile <(printf "subjectAltName=DNS:evil.org\n") 2>/dev/null &&
	! openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt e.crt >/dev/null 2>&1
'

test_expect_success 'a second init in the same directory fails (11)' '
	cp -a ca ca.before &&
	expect_fail 11 "already holds a CA" $SIGNET init --dir ca --name "Other Root"
'

test_expect_success '...and leaves the CA intact' '
	for f in root.crt root.key intermediate.crt intermediate.key signet.json; do
		cmp ca/$f ca.before/$f || exit 1
	done &&
	test "$(sqlite3 ca/signet.db "PRAGMA integrity_check")" = ok &&
	$SIGNET sign --dir ca in.csr --profile server --out again.crt &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt again.crt
'

test_expect_success 'init refuses a directory with a stray root.key (11) and keeps it' '
	mkdir broken && echo keep >broken/root.key &&
	expect_fail 11 "root.key" $SIGNET init --dir broken --name B &&
	test "$(cat broken/root.key)" = keep
'

test_expect_success 'an invalid constraint is refused (4) and creates nothing' '
	expect_fail 4 "name constraint" $SIGNET init --dir badnc --name B --permit-dns "bad..name" &&
	test ! -e badnc
'

test_done
