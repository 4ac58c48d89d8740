#!/bin/bash
# t5009-verify-policy: certificate policies (RFC 5280 6.1) through
# --policy and --require-explicit-policy; a violation is exit 25.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup: every certificate asserts policy 1.3.6.1.4.1.55555.1' '
	make_ca root self "certificatePolicies=2.5.29.32.0" &&
	make_ca inter root "certificatePolicies=1.3.6.1.4.1.55555.1" &&
	LEAF_EXTRA="certificatePolicies=1.3.6.1.4.1.55555.1" make_leaf www inter "DNS:www.example.com" serverAuth &&
	make_leaf nopol inter "DNS:nopol.example.com" serverAuth
'

test_expect_success 'the asserted policy is accepted when required' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem \
		--policy 1.3.6.1.4.1.55555.1 --require-explicit-policy
'

test_expect_code 25 'another policy is refused when an explicit policy is required' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem \
		--policy 1.3.6.1.4.1.55555.2 --require-explicit-policy 2>err ||
	{ c=$?; grep "no acceptable certificate policy: the path from www asserts none of the requested policies" err && exit $c; }
'

test_expect_code 25 'a leaf without policies fails --require-explicit-policy' '
	"$SIGNET" verify nopol.pem --chain inter.pem --trust root.pem --require-explicit-policy
'

test_expect_success 'without requirements, policies do not get in the way' '
	"$SIGNET" verify nopol.pem --chain inter.pem --trust root.pem
'

test_expect_success 'openssl agrees on the refusal (oracle)' '
	! openssl verify -CAfile root.pem -untrusted inter.pem -policy 1.3.6.1.4.1.55555.2 \
		-explicit_policy www.pem
'

test_expect_code 2 'a policy that is not an OID is a usage error' '
	"$SIGNET" verify www.pem --trust root.pem --policy anyPolicy
'
test_done
