#!/bin/bash
# t5001-verify-expired: outside the validity period is exit 21, and the
# message says which certificate, how long ago, and the date.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup' 'make_pki'

test_expect_code 21 'a leaf checked after its notAfter is expired' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --at 2099-01-01T00:00:00Z 2>err ||
	{ c=$?; grep "^signet verify: www: expired [0-9]* days ago (notAfter 20" err && exit $c; }
'

test_expect_code 21 'before notBefore it is not yet valid' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --at 2001-01-01T00:00:00+02:00 2>err ||
	{ c=$?; grep "not valid until" err && exit $c; }
'

test_expect_success 'within the period, --at is honoured' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --at "$(date -u -d "+1 day" +%Y-%m-%dT%H:%M:%SZ)"
'

test_expect_code 2 '--at rejects a time that is not RFC 3339' '
	"$SIGNET" verify www.pem --trust root.pem --at "next tuesday"
'
test_done
