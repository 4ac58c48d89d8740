#!/bin/bash
# t5003-verify-untrusted: no path to a trust anchor is exit 20, and the
# message names the missing issuer.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup: our PKI and an unrelated root' '
	make_pki && mkdir other && (cd other && make_ca root self)
'

test_expect_code 20 'a missing intermediate is named' '
	"$SIGNET" verify www.pem --trust root.pem 2>err ||
	{ c=$?; grep "no path to a trusted root: issuer .CN=inter. of www not found among 0 untrusted and 1 trusted certificates" err && exit $c; }
'

test_expect_code 20 'another root with the same name is not our root' '
	"$SIGNET" verify www.pem --chain inter.pem --trust other/root.pem 2>err ||
	{ c=$?; grep "issuer .CN=root. of inter not found among 1 untrusted and 1 trusted" err && exit $c; }
'

test_expect_code 20 'a self-signed certificate that is not an anchor' '
	"$SIGNET" verify root.pem --trust other/root.pem 2>err ||
	{ c=$?; grep "no path to a trusted root" err && exit $c; }
'

test_expect_success 'openssl agrees (oracle)' '
	! openssl verify -CAfile other/root.pem -untrusted inter.pem www.pem
'
test_done
