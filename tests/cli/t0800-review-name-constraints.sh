#!/bin/bash
# t0800-review-name-constraints.sh - every kind of name constraint the CA
# carries is enforced when signing (exit 7, nothing recorded), so signet
# never hands out a certificate that openssl then rejects; wildcards are
# judged by what they match.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

V() { openssl verify -x509_strict -CAfile ca/root.crt -untrusted ca/intermediate.crt "$@"; }
count() { $SIGNET list --dir ca --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))"; }

test_expect_success 'a CA with dns, ip and email constraints' '
	ca_init ca --permit-dns .example.com --exclude-dns .secret.example.com \
		--permit-ip 10.0.0.0/255.0.0.0 --permit-email example.com &&
	mkcsr a "/CN=a.example.com" "DNS:a.example.com"
'

test_expect_success 'an ip: SAN outside --permit-ip is refused (7), not recorded' '
	before=$(count) &&
	expect_fail 7 "ip:192.168.1.1 is outside" $SIGNET sign --dir ca a.csr --profile server \
		--san dns:a.example.com,ip:192.168.1.1 --out ip.crt &&
	test ! -e ip.crt && test "$(count)" = "$before"
'

test_expect_success 'an ip: SAN inside is signed and openssl accepts it' '
	$SIGNET sign --dir ca a.csr --profile server --san dns:a.example.com,ip:10.9.8.7 --out ipok.crt &&
	V ipok.crt
'

test_expect_success 'an email: SAN outside --permit-email is refused (7)' '
	expect_fail 7 "email:x@evil.org is outside" $SIGNET sign --dir ca a.csr --profile peer \
		--san dns:a.example.com,email:x@evil.org --out e.crt
'

test_expect_success 'a client CN that names a host outside the tree is refused (7)' '
	mkcsr c "/CN=alice.evil.org" &&
	expect_fail 7 "alice.evil.org is outside" $SIGNET sign --dir ca c.csr --profile client --out c.crt
'

test_expect_success 'a wildcard into an excluded subtree is refused (7)' '
	expect_fail 7 "excluded" $SIGNET sign --dir ca a.csr --profile server \
		--san "dns:*.secret.example.com" --out w.crt
'

test_expect_success 'an excluded .domain excludes its apex too: a wildcard over it is refused (7)' '
	expect_fail 7 "cover secret.example.com" $SIGNET sign --dir ca a.csr --profile server \
		--san "dns:*.example.com" --out w.crt
'

test_expect_success 'a wildcard directly under a .domain constraint is signed and verifies' '
	ca_init ca3 --permit-dns .example.com 2>/dev/null &&
	$SIGNET sign --dir ca3 a.csr --profile server --san "dns:*.example.com" --out w.crt &&
	openssl verify -x509_strict -CAfile ca3/root.crt -untrusted ca3/intermediate.crt w.crt &&
	$SIGNET verify w.crt --chain ca3/intermediate.crt --trust ca3/root.crt --host x.example.com
'

test_expect_success 'a wildcard that would match an excluded host is refused (7)' '
	ca_init ca2 --permit-dns example.com --exclude-dns admin.example.com &&
	expect_fail 7 "cover admin.example.com" $SIGNET sign --dir ca2 a.csr --profile server \
		--san "dns:*.example.com" --out w2.crt
'

test_done
