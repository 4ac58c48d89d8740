#!/bin/bash
# t5005-verify-purpose: the EKU must allow what the certificate is used
# for (exit 24).
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup: a server and a client certificate' '
	make_pki && make_leaf alice inter "email:alice@example.com" clientAuth
'

test_expect_code 24 'a client certificate cannot authenticate a server' '
	"$SIGNET" verify alice.pem --chain inter.pem --trust root.pem --purpose server 2>err ||
	{ c=$?; grep "alice: extendedKeyUsage does not include serverAuth" err && exit $c; }
'

test_expect_success 'it can authenticate a client, by email' '
	"$SIGNET" verify alice.pem --chain inter.pem --trust root.pem --email alice@example.com
'

test_expect_code 24 'a server certificate is not a client certificate' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --purpose client
'

test_expect_code 24 '--eku asks for a usage the certificate lacks' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --eku codeSigning
'

test_expect_code 24 '--key-usage asks for a key usage it lacks' '
	"$SIGNET" verify www.pem --chain inter.pem --trust root.pem --key-usage keyEncipherment
'

test_expect_success 'setup: an S/MIME certificate' '
	make_leaf bob inter "email:bob@example.com" emailProtection
'

test_expect_success '--purpose email accepts an S/MIME certificate' '
	"$SIGNET" verify bob.pem --chain inter.pem --trust root.pem --purpose email \
		--email bob@example.com
'

test_expect_code 24 '--purpose email refuses a TLS client certificate' '
	"$SIGNET" verify alice.pem --chain inter.pem --trust root.pem --purpose email 2>err ||
	{ c=$?; grep "does not include emailProtection" err && exit $c; }
'

test_expect_code 24 'a TLS server certificate must not also allow emailProtection' '
	make_leaf both inter "DNS:both.example.com,email:x@example.com" serverAuth,emailProtection &&
	"$SIGNET" verify both.pem --chain inter.pem --trust root.pem --host both.example.com 2>err ||
	{ c=$?; grep "also allows emailProtection" err && exit $c; }
'

test_expect_code 2 'an unknown purpose is a usage error' '
	"$SIGNET" verify www.pem --trust root.pem --purpose mail
'
test_done
