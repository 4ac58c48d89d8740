#!/bin/bash
# t0250-no-ca.sh - commands that need a CA, run where there is none, fail
# with 8 and one line that says how to make one; nothing is created.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

test_expect_success 'setup: a CSR' 'mkcsr c "/CN=c.example" "DNS:c.example"'

test_expect_success 'sign with no CA at ./signet-ca (8)' '
	expect_fail 8 "not a signet CA directory.*signet init" $SIGNET sign c.csr --profile server &&
	test ! -e signet-ca
'
test_expect_success 'issue with --dir pointing nowhere (8), no key written' '
	expect_fail 8 "nowhere" $SIGNET issue x.example --dir nowhere &&
	test ! -e nowhere && test ! -e x.example.key
'
test_expect_success 'list in an empty directory (8)' '
	mkdir empty && expect_fail 8 "empty" $SIGNET list --dir empty &&
	test -z "$(ls -A empty)"
'
test_expect_success 'export with $SIGNET_DIR at a plain directory (8)' '
	mkdir plain && SIGNET_DIR=$TRASH/plain expect_fail 8 "plain" $SIGNET export x --chain x.pem
'
test_expect_success 'a directory with keys but no signet.json is not a CA (8)' '
	mkdir half && touch half/root.crt half/root.key &&
	expect_fail 8 "half" $SIGNET sign c.csr --profile server --dir half
'
test_expect_success '$SIGNET_DIR at a regular file (8 or 3), one line' '
	touch afile &&
	c=$(exit_code env SIGNET_DIR=$TRASH/afile $SIGNET list 2>err) &&
	{ test $c = 8 || test $c = 3; } && test "$(wc -l <err)" = 1
'

test_expect_success 'a CA whose signet.db is gone: refused (9), no empty database made' '
	ca_init lost &&
	$SIGNET issue a.example --dir lost >/dev/null 2>&1 &&
	$SIGNET revoke a.example --dir lost --reason keyCompromise >/dev/null 2>&1 &&
	sqlite3 lost/signet.db ".backup lost-db.bak" &&
	rm -f lost/signet.db lost/signet.db-wal lost/signet.db-shm &&
	for cmd in "list" "crl --out c.pem" "issue b.example" "revoke a.example"; do
		expect_fail 9 "signet.db: the CA database is missing" $SIGNET $cmd --dir lost || return 1
	done &&
	test ! -e lost/signet.db && test ! -e c.pem && test ! -e b.example.key
'
test_expect_success 'a CA whose signet.db is empty (0 bytes): refused (9), file untouched' '
	: >lost/signet.db &&
	expect_fail 9 "signet.db: the CA database is empty" $SIGNET crl --dir lost --out c.pem &&
	expect_fail 9 "signet.db: the CA database is empty" $SIGNET list --dir lost &&
	test ! -s lost/signet.db && test ! -e c.pem
'
test_expect_success 'the restored database works again, its revocation intact' '
	rm -f lost/signet.db && cp lost-db.bak lost/signet.db &&
	$SIGNET list --dir lost --status revoked --json >r.json &&
	grep -q "CN=a.example" r.json
'

test_expect_success 'FIFOs in the CA directory are refused (4), never read (no hang)' '
	ca_init fifo &&
	for f in signet.json root.crt intermediate.crt intermediate.key; do
		mv fifo/$f fifo/$f.real && mkfifo fifo/$f &&
		c=0 && { timeout 20 $SIGNET crl --dir fifo --out fifo.crl 2>err || c=$?; } &&
		{ test "$c" = 4 || { echo "$f: exit $c"; cat err; return 1; }; } &&
		grep -q "fifo/$f: not a regular file" err && test "$(wc -l <err)" = 1 &&
		rm fifo/$f && mv fifo/$f.real fifo/$f || return 1
	done &&
	$SIGNET crl --dir fifo --out fifo.crl 2>/dev/null
'
test_expect_success 'a malformed signet.json says what is wrong (4)' '
	cp fifo/signet.json json.good &&
	echo "[]" >fifo/signet.json &&
	expect_fail 4 "signet.json: malformed configuration: not a JSON object$" $SIGNET list --dir fifo &&
	$PYTHON -c "import json; c=json.load(open(\"json.good\")); c[\"default_days\"]=10**12; json.dump(c, open(\"fifo/signet.json\",\"w\"))" &&
	expect_fail 4 "default_days must be a whole number of days, 1 to 36500" $SIGNET list --dir fifo &&
	$PYTHON -c "import json; c=json.load(open(\"json.good\")); c[\"default_days\"]=\"90\"; json.dump(c, open(\"fifo/signet.json\",\"w\"))" &&
	expect_fail 4 "default_days" $SIGNET list --dir fifo &&
	cp json.good fifo/signet.json && $SIGNET list --dir fifo >/dev/null
'

test_done
