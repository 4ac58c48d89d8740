#!/bin/bash
# t5002-verify-host: the name the client connected to must be covered by a
# SAN (exit 23 otherwise); wildcards cover exactly one label.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup' 'make_pki'

test_expect_success 'the exact DNS SAN matches, case-insensitively' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host WWW.Example.COM
'

test_expect_success 'a wildcard SAN covers one label' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host img.cdn.example.com
'

test_expect_code 23 'a wrong host is a name mismatch listing the SANs' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host api.example.com 2>err ||
	{ c=$?; grep "name mismatch: api.example.com is not covered by SANs \[www.example.com, \*.cdn.example.com, 127.0.0.1\]" err && exit $c; }
'

test_expect_code 23 'a wildcard does not cover two labels' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host a.b.cdn.example.com
'

test_expect_code 23 'nor the bare domain' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host cdn.example.com
'

test_expect_success 'an IP SAN matches --ip' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --ip 127.0.0.1
'

test_expect_code 23 'another IP does not' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --ip 10.0.0.1
'

test_expect_success 'an IP given as --host is matched as an IP, against the IP SAN' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host 127.0.0.1
'

test_expect_code 23 'an IP given as --host that no IP SAN holds is a mismatch' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --host 10.0.0.1
'

test_expect_code 2 '--host and --ip together are a usage error' '
	"$SIGNET" verify www.pem --trust root.pem --host a.example --ip 127.0.0.1
'
test_done
