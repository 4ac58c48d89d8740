#!/bin/bash
# t0260-disk-full.sh - a full disk under the output files: `signet issue`
# and `signet sign --out` fail with 3 and one line, leave no partial file and
# no temporary file, and the CA database stays intact.  Needs root to mount
# a small tmpfs; skipped otherwise.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

mkdir full
mount -t tmpfs -o size=64k tmpfs full 2>/dev/null || test_skip_all "cannot mount a tmpfs (not root?)"
test_on_exit "umount '$TRASH/full'"
test_on_exit "umount '$TRASH/big'"

fill() { # leave N free pages on the tmpfs
	rm -f full/filler* &&
	{ dd if=/dev/zero of=full/filler bs=4k 2>/dev/null || true; } &&
	if [ "$1" -gt 0 ]; then truncate -s -$(($1 * 4096)) full/filler; fi
}
no_tmp() { ! ls -a full | grep -q "\.tmp\."; }
db_ok() { test "$(sqlite3 ca/signet.db "PRAGMA integrity_check")" = ok; }

test_expect_success 'setup: CA on a normal disk, CSR' '
	ca_init ca && mkcsr c "/CN=c.example" "DNS:c.example"
'

test_expect_success 'sign --out onto a full disk fails (3), one line, no file' '
	fill 0 &&
	expect_fail 3 "full/c.crt.*(No space|space)" $SIGNET sign c.csr --profile server --out full/c.crt &&
	test ! -e full/c.crt && no_tmp && db_ok
'

test_expect_success 'sign --out-dir onto a full disk fails (3), no file' '
	expect_fail 3 "No space" $SIGNET sign c.csr --profile server --out-dir full/batch &&
	test -z "$(ls full/batch 2>/dev/null)" && no_tmp && db_ok
'

test_expect_success 'issue onto a full disk fails (3), no key, no cert, no temp' '
	expect_fail 3 "No space" $SIGNET issue web.example --out-dir full &&
	test ! -e full/web.example.key && test ! -e full/web.example.crt &&
	test ! -e full/web.example.chain.pem && no_tmp && db_ok
'

test_expect_success 'issue with room for the key only: the key is whole, no partial cert' '
	fill 1 &&
	expect_fail 3 "No space" $SIGNET issue api.example --out-dir full &&
	no_tmp && db_ok &&
	if [ -e full/api.example.key ]; then openssl pkey -in full/api.example.key -noout; fi &&
	test ! -e full/api.example.crt || openssl x509 -in full/api.example.crt -noout
'

test_expect_success 'an existing certificate is not damaged by a failed overwrite' '
	rm -f full/filler* &&
	$SIGNET sign c.csr --profile server --out full/keep.crt &&
	cp full/keep.crt keep.before && fill 0 &&
	expect_fail 3 "No space" $SIGNET sign c.csr --profile server --out full/keep.crt &&
	cmp keep.before full/keep.crt && no_tmp
'

test_expect_success 'the CA still works afterwards, database intact' '
	rm -f full/filler* && db_ok &&
	$SIGNET sign c.csr --profile server --out ok.crt &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt ok.crt &&
	$SIGNET list >/dev/null
'

test_expect_success 'a CA database on a full disk fails cleanly (no crash, one line)' '
	mkdir big && mount -t tmpfs -o size=512k tmpfs big &&
	cp -a ca big/ca &&
	n=$(sqlite3 big/ca/signet.db "SELECT count(*) FROM certs") &&
	{ dd if=/dev/zero of=big/filler bs=4k 2>/dev/null || true; } &&
	c=$(exit_code $SIGNET sign --dir big/ca c.csr --profile server --out out.crt 2>err) &&
	echo "exit $c" && cat err &&
	test $c -ne 0 && test $c -lt 128 && test "$(wc -l <err)" = 1 && test ! -e out.crt &&
	rm -f big/filler &&
	test "$(sqlite3 big/ca/signet.db "PRAGMA integrity_check")" = ok &&
	test "$(sqlite3 big/ca/signet.db "SELECT count(*) FROM certs")" = $n
'

test_done
