#!/bin/bash
# t5007-verify-algorithm: weak keys and SHA-1 signatures are exit 27.
. "$(dirname "$0")/t5000-verify-pki.sh"

test_expect_success 'setup' 'make_pki'

test_expect_code 27 'an RSA-1024 leaf key is too small' '
	make_leaf weak inter "DNS:weak.example.com" serverAuth -algorithm RSA -pkeyopt rsa_keygen_bits:1024 &&
	"$SIGNET" verify weak.pem --chain inter.pem --trust root.pem 2>err ||
	{ c=$?; grep "weak: RSA key of 1024 bits is below the 2048-bit minimum" err && exit $c; }
'

test_expect_success 'an RSA-2048 leaf key is fine' '
	make_leaf ok inter "DNS:ok.example.com" serverAuth -algorithm RSA -pkeyopt rsa_keygen_bits:2048 &&
	"$SIGNET" verify ok.pem --chain inter.pem --trust root.pem
'

test_expect_code 27 'a SHA-1 signature is refused' '
	LEAF_MD=sha1 make_leaf sha1 inter "DNS:sha1.example.com" serverAuth &&
	"$SIGNET" verify sha1.pem --chain inter.pem --trust root.pem 2>err ||
	{ c=$?; grep "sha1: signed with ecdsa-with-SHA1" err && exit $c; }
'
test_done
