#!/bin/bash
# t0270-special-outputs.sh - outputs that are not plain files.  Atomic
# writes go through a temporary file and a rename; that must not replace a
# FIFO or a device (as root, `--out /dev/null` once turned /dev/null into a
# regular file), nor a symbolic link.  A directory is refused.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

test_expect_success 'setup' '
	ca_init ca && mkcsr good "/CN=good" "DNS:good.example" &&
	mkcsr two "/CN=two" "DNS:two.example"
'

test_expect_success 'sign --out FIFO: written through the pipe, FIFO kept' '
	mkfifo pipe.pem &&
	{ timeout 20 cat pipe.pem >got.pem & } &&
	$SIGNET sign good.csr --profile server --out pipe.pem 2>err &&
	wait &&
	test -p pipe.pem &&
	openssl x509 -in got.pem -noout -subject | grep -q "CN *= *good" &&
	! ls pipe.pem.tmp.* 2>/dev/null
'

test_expect_success 'sign, several CSRs, --out FIFO: the bundle goes through' '
	{ timeout 20 cat pipe.pem >bundle.pem & } &&
	$SIGNET sign good.csr two.csr --profile server --out pipe.pem 2>err &&
	wait &&
	test -p pipe.pem &&
	test "$(grep -c "BEGIN CERTIFICATE" bundle.pem)" = 2
'

test_expect_success 'key new --out FIFO: the key goes through, nothing left beside it' '
	{ timeout 20 cat pipe.pem >k.pem & } &&
	$SIGNET key new --out pipe.pem 2>err &&
	wait &&
	test -p pipe.pem &&
	openssl pkey -in k.pem -noout &&
	test -z "$(ls | grep "\.tmp\.")"
'

test_expect_success 'crl --der --out FIFO: the CRL goes through; a later --delta does not hang' '
	{ timeout 20 cat pipe.pem >crl.der & } &&
	$SIGNET crl --der --out pipe.pem 2>err &&
	wait &&
	test -p pipe.pem &&
	openssl crl -inform DER -in crl.der -noout &&
	timeout 20 $SIGNET crl --delta --out delta.pem 2>err &&
	openssl crl -in delta.pem -noout -text | grep -q "Delta CRL Indicator" &&
	! find ca -type p | grep -q .
'

test_expect_success 'crl --der --out SYMLINK: the delta base is the file, not the link' '
	mkdir pub && : >pub/ca.der && ln -s pub/ca.der crl-link.der &&
	$SIGNET crl --der --out crl-link.der 2>err &&
	test -L crl-link.der && openssl crl -inform DER -in pub/ca.der -noout &&
	! find ca -type l | grep -q . &&
	timeout 20 $SIGNET crl --delta --out delta2.pem 2>err &&
	openssl crl -in delta2.pem -noout -text | grep -q "Delta CRL Indicator"
'

test_expect_success 'sign --out SYMLINK: the link stays, its target gets the certificate' '
	mkdir real && : >real/target.pem && ln -s real/target.pem link.pem &&
	$SIGNET sign good.csr --profile server --out link.pem 2>err &&
	test -L link.pem &&
	test "$(readlink link.pem)" = real/target.pem &&
	openssl x509 -in real/target.pem -noout -subject | grep -q "CN *= *good"
'

test_expect_success 'sign --out DIRECTORY: refused (3), the directory untouched' '
	mkdir outdir &&
	expect_fail 3 "outdir: is a directory" $SIGNET sign good.csr --profile server --out outdir &&
	test -d outdir && test -z "$(ls outdir)"
'

test_expect_success 'stdout on a full device or closed: exit 3 and one line, for stdio output too' '
	test -c /dev/full || { echo "# no /dev/full, skipped"; exit 0; }
	for cmd in "list" "list --json" "show ca/root.crt" "show --json ca/root.crt" \
		"verify --json --trust ca/root.crt --chain ca/intermediate.crt got.pem" "--help" "--version" "crl"; do
		c=0 && { $SIGNET $cmd >/dev/full 2>err || c=$?; } &&
		{ test "$c" = 3 || { echo "$cmd: exit $c"; cat err; return 1; }; } &&
		grep -q "stdout: write failed" err && test "$(wc -l <err)" = 1 || return 1
	done &&
	c=0 && { $SIGNET list >&- 2>err || c=$?; } && test "$c" = 3 && grep -q "stdout" err
'

test_expect_success 'an empty --out is a usage error (2); a newline in a name stays on one line' '
	expect_fail 2 "empty file name" $SIGNET key new --out "" &&
	expect_fail 2 "empty file name" $SIGNET sign good.csr --profile server --out "" &&
	nl="bad
name.crt" &&
	expect_fail 3 "bad\\\\nname.crt: cannot open" $SIGNET show "$nl" &&
	expect_fail 2 "" $SIGNET sign good.csr --profile "ser
ver"
'

test_done
