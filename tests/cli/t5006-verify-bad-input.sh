#!/bin/bash
# t5006-verify-bad-input: garbage, wrong PEM labels and truncated DER are
# parse errors (exit 4) with the file named; missing files are 3.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup' 'make_pki && openssl x509 -in www.pem -outform DER -out www.der'

test_expect_code 4 'garbage is not a certificate' '
	head -c 3000 /dev/urandom >garbage && printf "\x01" | cat - garbage >g2 &&
	"$SIGNET" verify g2 --trust root.pem 2>err ||
	{ c=$?; grep "^signet verify: g2: " err && exit $c; }
'

test_expect_code 4 'a PEM key where a certificate belongs is named as such' '
	"$SIGNET" verify www.key --trust root.pem 2>err ||
	{ c=$?; grep "found a PEM .PRIVATE KEY. block where a CERTIFICATE was expected" err && exit $c; }
'

test_expect_code 4 'truncated DER is refused' '
	head -c 200 www.der >trunc.der &&
	"$SIGNET" verify trunc.der --trust root.pem 2>err ||
	{ c=$?; grep "trunc.der: " err && exit $c; }
'

test_expect_success 'whole DER is fine' '
	"$SIGNET" verify www.der --chain inter.pem --trust root.pem
'

test_expect_code 4 'a bad trust file is a parse error too' '
	"$SIGNET" verify www.pem --trust garbage
'

test_expect_code 3 'a missing file is an I/O error' '
	"$SIGNET" verify nonexistent.pem --trust root.pem
'

test_expect_code 2 'no certificate at all is a usage error' '
	"$SIGNET" verify --trust root.pem
'

test_expect_code 2 'an unknown option is a usage error' '
	"$SIGNET" verify www.pem --frobnicate
'

test_expect_success 'a chain of 300 copies of candidates finishes quickly' '
	for i in $(seq 300); do cat inter.pem; done >many.pem &&
	start=$(date +%s%N) &&
	"$SIGNET" verify www.pem --chain many.pem --trust root.pem &&
	end=$(date +%s%N) && test $(( (end - start) / 1000000 )) -lt 2000
'
test_done
