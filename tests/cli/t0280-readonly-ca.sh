#!/bin/bash
# t0280-readonly-ca.sh - a CA directory this user may only read (another
# user's CA, a backup copy): list and export work from it, nothing is
# created in it, and a command that would write fails with 9 and a reason.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

[ "$(id -u)" = 0 ] || test_skip_all "needs root to run signet as another user"
command -v setpriv >/dev/null || test_skip_all "needs setpriv (util-linux)"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 755 "$TRASH"
as_nobody test -x "$SIGNET" || test_skip_all "user nobody cannot run $SIGNET"

# Every record with its status (days_left moves with the clock).
records() { "$@" --json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["serial"], r["status"], r["subject"])'; }

test_expect_success 'setup: a CA with an issued and a revoked certificate, readable by all' '
	ca_init ca &&
	$SIGNET issue a.example --dir ca --profile server --san dns:a.example >/dev/null 2>&1 &&
	$SIGNET issue b.example --dir ca --profile server --san dns:b.example >/dev/null 2>&1 &&
	$SIGNET revoke b.example --dir ca --reason keyCompromise >/dev/null 2>&1 &&
	chmod 755 ca && chmod 644 ca/signet.db ca/signet.db-wal ca/signet.db-shm &&
	records $SIGNET list --dir ca >want &&
	test $(wc -l <want) = 4 && grep -q revoked want
'

test_expect_success 'another user lists the live CA: the same records' '
	records as_nobody $SIGNET list --dir ca >got &&
	cmp -s want got
'

test_expect_success 'a backup without WAL files, in a directory nobody may write: the same records' '
	mkdir backup &&
	cp ca/signet.json ca/root.crt ca/intermediate.crt backup/ &&
	sqlite3 ca/signet.db ".backup backup/signet.db" &&
	test ! -e backup/signet.db-wal &&
	chmod 755 backup && chmod 644 backup/* &&
	records as_nobody $SIGNET list --dir backup >got &&
	cmp -s want got &&
	as_nobody $SIGNET list --dir backup --status revoked >revoked &&
	grep -q "CN=b.example" revoked &&
	test ! -e backup/signet.db-wal && test ! -e backup/signet.db-shm
'

test_expect_success 'the same from a directory whose name needs escaping in a URI' '
	cp -a backup "odd dir?#%" &&
	records as_nobody $SIGNET list --dir "odd dir?#%" >got &&
	cmp -s want got
'

test_expect_success 'a copy with its WAL but no -shm file, read-only: 9 and what to do' '
	$SIGNET issue c.example --dir ca --profile server --san dns:c.example >/dev/null 2>&1 &&
	test -s ca/signet.db-wal &&
	mkdir walcopy &&
	cp ca/signet.json ca/root.crt ca/intermediate.crt ca/signet.db ca/signet.db-wal walcopy/ &&
	chmod 755 walcopy && chmod 644 walcopy/* &&
	expect_fail 9 "needs a -shm file.*\.backup" as_nobody $SIGNET list --dir walcopy &&
	test ! -e walcopy/signet.db-shm
'

test_expect_success 'export --chain from the read-only backup' '
	mkdir out && chmod 777 out &&
	as_nobody $SIGNET export a.example --dir backup --chain out/a.pem &&
	openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt out/a.pem
'

test_expect_success 'revoke there fails with 9 and says the database is read-only; nothing changes' '
	expect_fail 9 "read-only here" as_nobody $SIGNET revoke a.example --dir backup \
		--reason superseded &&
	records as_nobody $SIGNET list --dir backup >got &&
	cmp -s want got
'

test_expect_success 'the owner still writes the live CA afterwards' '
	$SIGNET revoke a.example --dir ca --reason superseded >/dev/null 2>&1 &&
	$SIGNET list --dir ca --status revoked | grep -q "CN=a.example"
'

test_done
