#!/bin/bash
# t0801-review-permit-ip.sh - `init --permit-ip` takes the CIDR form its
# --help documents (10.0.0.0/8, fd00::/8), as well as OpenSSL's
# address/netmask form, and refuses a prefix with host bits set (exit 4).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

test_expect_success '--help documents the CIDR form' '
	$SIGNET init --help | grep -q -- "--permit-ip CIDR .*10.0.0.0/8"
'

test_expect_success 'init --permit-ip 10.0.0.0/8 --permit-ip fd00::/8 puts both into the CA' '
	ca_init ca --permit-ip 10.0.0.0/8 --permit-ip fd00::/8 --permit-ip 192.168.0.0/255.255.0.0 &&
	openssl x509 -in ca/root.crt -noout -text >root.txt &&
	grep -q "IP:10.0.0.0/255.0.0.0" root.txt &&
	grep -q "IP:FD00:0:0:0:0:0:0:0/FF00:0:0:0:0:0:0:0" root.txt &&
	grep -q "IP:192.168.0.0/255.255.0.0" root.txt
'

test_expect_success 'addresses inside are signed and verify; outside are refused (7)' '
	mkcsr a "/CN=a" &&
	$SIGNET sign --dir ca a.csr --profile server --san ip:10.1.2.3,ip:fd00::1 --out in.crt &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt in.crt &&
	expect_fail 7 "ip:11.0.0.1 is outside" $SIGNET sign --dir ca a.csr --profile server \
		--san ip:11.0.0.1 --out out.crt
'

test_expect_success 'a prefix with host bits set is refused (4) and creates nothing' '
	expect_fail 4 "ip:10.0.0.1/8" $SIGNET init --dir bad --name B --permit-ip 10.0.0.1/8 &&
	expect_fail 4 "ip:10.0.0.0/33" $SIGNET init --dir bad --name B --permit-ip 10.0.0.0/33 &&
	test ! -e bad
'

test_done
