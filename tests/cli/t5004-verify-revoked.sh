#!/bin/bash
# t5004-verify-revoked: with CRLs every certificate below the root must be
# covered; revoked is exit 22, not covered is 26 (like -crl_check_all).
. "$(dirname "$0")/t5000-verify-pki.sh"

ca_conf() { # NAME
	mkdir -p db-$1 && : >db-$1/index.txt && echo 1000 >db-$1/crlnumber
	cat >$1.cnf <<-CNF
	[ca]
	default_ca=ca
	[ca]
	database=db-$1/index.txt
	crlnumber=db-$1/crlnumber
	default_md=sha256
	default_crl_days=30
	crl_extensions=crlext
	[crlext]
	authorityKeyIdentifier=keyid:always
	CNF
}
test_expect_success 'setup: PKI, CRLs of root and intermediate, leaf revoked' '
	make_pki && make_leaf good inter "DNS:good.example.com" serverAuth &&
	ca_conf root && ca_conf inter &&
	openssl ca -config root.cnf -gencrl -keyfile root.key -cert root.pem -out root.crl 2>/dev/null &&
	openssl ca -config inter.cnf -revoke www.pem -keyfile inter.key -cert inter.pem -crl_reason keyCompromise 2>/dev/null &&
	openssl ca -config inter.cnf -gencrl -keyfile inter.key -cert inter.pem -out inter.crl 2>/dev/null
'

test_expect_code 22 'a revoked leaf is refused with date, reason and CRL number' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --crl inter.crl --crl root.crl 2>err ||
	{ c=$?; grep "www: revoked 20[0-9-]* [0-9:]* UTC (keyCompromise) according to CRL #1000" err && exit $c; }
'

test_expect_success 'openssl -crl_check_all agrees (oracle)' '
	! openssl verify -crl_check_all -CAfile root.pem -untrusted inter.pem -CRLfile inter.crl -CRLfile root.crl www.pem
'

test_expect_success 'a certificate not on the CRL passes' '
	"$SIGNET" verify good.pem --chain inter.pem --trust root.pem --crl inter.crl --crl root.crl
'

test_expect_code 26 'without the root CRL the intermediate status is unknown' '
	"$SIGNET" verify good.pem --chain inter.pem --trust root.pem --crl inter.crl 2>err ||
	{ c=$?; grep "inter: revocation status unknown" err && exit $c; }
'

test_expect_code 4 'a certificate passed as --crl is a parse error' '
	"$SIGNET" verify good.pem --chain inter.pem --trust root.pem --crl root.pem
'
test_done
