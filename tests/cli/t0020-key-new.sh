#!/bin/bash
# t0020-key-new.sh - `signet key new`: every type is PKCS#8 that openssl
# reads, written 0600; --encrypt gives an ENCRYPTED PRIVATE KEY that openssl
# opens with the right passphrase only; "-" and no --out write stdout.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"

# rsa-4096 is slow: generated once, here.
for t in ec-p256 ec-p384 ed25519 rsa-2048 rsa-3072 rsa-4096; do
	test_expect_success "key new --type $t: openssl pkey reads it, mode 0600" "
		\$SIGNET key new --type $t --out $t.key 2>/dev/null &&
		test \"\$(stat -c %a $t.key)\" = 600 &&
		head -1 $t.key | grep -qx -- '-----BEGIN PRIVATE KEY-----' &&
		openssl pkey -in $t.key -noout &&
		openssl pkey -in $t.key -text -noout >text
	"
done

test_expect_success 'key types are what they say (openssl -text)' '
	openssl pkey -in ec-p256.key -text -noout | grep -q "NIST CURVE: P-256" &&
	openssl pkey -in ec-p384.key -text -noout | grep -q "NIST CURVE: P-384" &&
	openssl pkey -in ed25519.key -text -noout | grep -q "ED25519 Private-Key" &&
	openssl pkey -in rsa-2048.key -text -noout | grep -q "(2048 bit" &&
	openssl pkey -in rsa-3072.key -text -noout | grep -q "(3072 bit"
'

test_expect_success 'default type is ec-p256' '
	$SIGNET key new --out d.key 2>/dev/null &&
	openssl pkey -in d.key -text -noout | grep -q "NIST CURVE: P-256"
'

test_expect_success 'no --out and --out - write the key to stdout' '
	$SIGNET key new >a.pem &&
	$SIGNET key new --out - >b.pem &&
	openssl pkey -in a.pem -noout && openssl pkey -in b.pem -noout &&
	! cmp -s a.pem b.pem
'

test_expect_success 'two keys differ' '
	$SIGNET key new --out k1.key 2>/dev/null && $SIGNET key new --out k2.key 2>/dev/null &&
	! cmp -s k1.key k2.key
'

test_expect_success '--encrypt --pass-file: ENCRYPTED PRIVATE KEY, openssl reads it' '
	printf "s3cret phrase\n" >kp &&
	$SIGNET key new --encrypt --pass-file kp --out enc.key 2>/dev/null &&
	test "$(stat -c %a enc.key)" = 600 &&
	head -1 enc.key | grep -qx -- "-----BEGIN ENCRYPTED PRIVATE KEY-----" &&
	openssl pkey -in enc.key -passin file:kp -noout &&
	openssl asn1parse -in enc.key | grep -q -i "aes-256-cbc"
'

test_expect_success 'the encrypted key does not open with a wrong passphrase' '
	test -s enc.key && printf "wrong\n" >wp &&
	! openssl pkey -in enc.key -passin file:wp -noout 2>/dev/null &&
	! openssl pkey -in enc.key -passin pass: -noout 2>/dev/null
'

test_expect_success 'the encrypted key is the one Python cryptography decrypts too' '
	test -n "$PYTHON" &&
	$PYTHON -c "
from cryptography.hazmat.primitives.serialization import load_pem_private_key
load_pem_private_key(open(\"enc.key\",\"rb\").read(), b\"s3cret phrase\")
try:
    load_pem_private_key(open(\"enc.key\",\"rb\").read(), b\"wrong\")
    raise SystemExit(1)
except ValueError:
    pass
"
'

test_expect_success 'an encrypted rsa key works too' '
	$SIGNET key new --type rsa-2048 --encrypt --pass-file kp --out encr.key 2>/dev/null &&
	openssl pkey -in encr.key -passin file:kp -noout
'

test_expect_success 'unknown --type is a usage error (2), one line' '
	expect_fail 2 "unknown key type .dsa" $SIGNET key new --type dsa-1024 --out x.key &&
	test ! -e x.key
'

test_expect_success 'encrypt without a passphrase and no terminal fails (5)' '
	expect_fail 5 "passphrase" setsid $SIGNET key new --encrypt --out y.key </dev/null &&
	test ! -e y.key
'

test_expect_success 'an empty passphrase file is refused (5)' '
	: >empty &&
	expect_fail 5 "empty" $SIGNET key new --encrypt --pass-file empty --out z.key &&
	test ! -e z.key
'

test_expect_success 'a missing passphrase file is refused (5), naming it' '
	expect_fail 5 "nosuchfile" $SIGNET key new --encrypt --pass-file nosuchfile --out z.key
'

test_expect_success 'key new into a missing directory fails with 3 and no file' '
	expect_fail 3 "nodir/k.key" $SIGNET key new --out nodir/k.key &&
	test ! -e nodir
'

test_expect_success 'an existing key is never replaced without --force (11)' '
	$SIGNET key new --out keep.key 2>/dev/null &&
	cp keep.key keep.before &&
	expect_fail 11 "keep.key already exists.*--force" $SIGNET key new --out keep.key &&
	cmp keep.key keep.before &&
	ln -s nowhere/x.key dangling.key &&
	expect_fail 11 "dangling.key already exists" $SIGNET key new --out dangling.key &&
	test -L dangling.key &&
	$SIGNET key new --out keep.key --force 2>/dev/null &&
	! cmp -s keep.key keep.before &&
	test "$(stat -c %a keep.key)" = 600 && openssl pkey -in keep.key -noout
'

test_expect_success 'no temporary files are left behind' '
	! ls -a | grep -q "\.tmp\."
'

test_done
