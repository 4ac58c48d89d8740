#!/bin/bash
# t0220-bad-passphrase.sh - the CA passphrase: wrong (5), missing with no
# terminal (5), unreadable passphrase file (5); nothing issued or recorded.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

count() { sqlite3 ca/signet.db "SELECT count(*) FROM certs"; }

test_expect_success 'setup' '
	ca_init ca && mkcsr c "/CN=c.example" "DNS:c.example" && printf "not it\n" >wrong
'

test_expect_success 'sign with a wrong passphrase (5), one line' '
	expect_fail 5 "intermediate.key: wrong passphrase" $SIGNET sign c.csr --profile server --pass-file wrong --out x.crt &&
	test ! -e x.crt && test $(count) = 2
'

test_expect_success 'issue with a wrong passphrase via $SIGNET_PASS_FILE (5), no files' '
	SIGNET_PASS_FILE=$TRASH/wrong expect_fail 5 "wrong passphrase" $SIGNET issue w.example &&
	test ! -e w.example.key && test ! -e w.example.crt && test $(count) = 2
'

test_expect_success 'sign --issuer root with a wrong passphrase names root.key (5)' '
	expect_fail 5 "root.key: wrong passphrase" $SIGNET sign c.csr --profile sub-ca --issuer root --pass-file wrong
'

test_expect_success 'no passphrase and no terminal (5)' '
	expect_fail 5 "passphrase" env -u SIGNET_PASS_FILE setsid $SIGNET sign c.csr --profile server --out x.crt </dev/null &&
	test ! -e x.crt
'

test_expect_success 'issue with no passphrase and no terminal (5), no key written' '
	expect_fail 5 "passphrase" env -u SIGNET_PASS_FILE setsid $SIGNET issue np.example </dev/null &&
	test ! -e np.example.key
'

test_expect_success 'a missing passphrase file (5), naming it' '
	expect_fail 5 "nosuch.pass" $SIGNET sign c.csr --profile server --pass-file nosuch.pass
'

test_expect_success 'an empty passphrase file (5)' '
	: >empty.pass && expect_fail 5 "empty" $SIGNET sign c.csr --profile server --pass-file empty.pass
'

test_expect_success 'a passphrase file with CRLF line ending works' '
	printf "correct horse battery staple\r\n" >crlf.pass &&
	$SIGNET sign c.csr --profile server --pass-file crlf.pass --out ok.crt &&
	test $(count) = 3
'

test_expect_success 'a key that does not match the CA certificate is refused' '
	cp -a ca swapped && $SIGNET key new --force --encrypt --pass-file $SIGNET_PASS_FILE --out swapped/intermediate.key 2>/dev/null &&
	c=$(exit_code $SIGNET sign --dir swapped c.csr --profile server --out s.crt 2>err) &&
	test $c -ne 0 && test $c -lt 128 && test "$(wc -l <err)" = 1 && grep -q "does not match" err &&
	test ! -e s.crt
'

test_done
