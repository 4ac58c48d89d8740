#!/bin/bash
# t0310-db-migrate.sh - a CA database made by an older signet (schema 2:
# rows keyed by serial, WITHOUT ROWID) is upgraded in place on first open
# to schema 3 (rows in issuance order, a UNIQUE serial index), with every
# record, revocation and counter kept; a migration that fails leaves the
# old database as it was.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

command -v sqlite3 >/dev/null || { test_skip_all "sqlite3 shell not installed"; }

# The schema of signet's databases at user_version 2, as those versions made it.
V2_SCHEMA='
CREATE TABLE certs (serial TEXT PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE,
 issuer TEXT NOT NULL, name TEXT, subject TEXT NOT NULL, sans TEXT,
 profile TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,
 issued_at INTEGER NOT NULL,
 status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
 revoked_at INTEGER, reason INTEGER, invalidity_date INTEGER,
 der BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX certs_name ON certs(name);
CREATE INDEX certs_status ON certs(status, not_after);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE INDEX certs_revoked ON certs(issuer, serial, revoked_at, reason,
 invalidity_date, status) WHERE status = 1;
PRAGMA user_version = 2;'

# make_v2 OUT: a schema-2 copy of ca/signet.db's rows.
make_v2() {
	rm -f "$1" && sqlite3 "$1" "$V2_SCHEMA
ATTACH 'ca/signet.db' AS cur;
INSERT INTO certs SELECT serial, fingerprint, issuer, name, subject, sans,
 profile, not_before, not_after, issued_at, status, revoked_at, reason,
 invalidity_date, der FROM cur.certs;
INSERT INTO counters SELECT * FROM cur.counters;"
}

install_db() { # file: make it the CA's database
	rm -f ca/signet.db ca/signet.db-wal ca/signet.db-shm && cp "$1" ca/signet.db
}

test_expect_success 'setup: a CA with issued and revoked certificates' '
	ca_init ca &&
	for n in a b c d; do $SIGNET issue $n.example >/dev/null 2>&1 || return 1; done &&
	$SIGNET revoke b.example --reason keyCompromise 2>/dev/null &&
	$SIGNET revoke c.example --reason superseded 2>/dev/null &&
	$SIGNET crl --out before.crl 2>/dev/null &&
	$SIGNET list --json >before.json &&
	test "$(sqlite3 ca/signet.db "PRAGMA user_version")" = 3 &&
	make_v2 v2.db &&
	test "$(sqlite3 v2.db "PRAGMA user_version")" = 2 &&
	test "$(sqlite3 v2.db "SELECT count(*) FROM certs")" = 6
'

test_expect_success 'first open upgrades schema 2 to 3, every record kept' '
	install_db v2.db &&
	$SIGNET list --json >after.json &&
	test "$(sqlite3 ca/signet.db "PRAGMA user_version")" = 3 &&
	$PYTHON -c "
import json, sys
# days_left depends on when list runs; every stored field must be equal
strip = lambda rs: [{k: v for k, v in r.items() if k != \"days_left\"} for r in rs]
a = strip(json.load(open(\"before.json\"))); b = strip(json.load(open(\"after.json\")))
sys.exit(0 if a == b and len(a) == 6 else 1)" &&
	test "$(sqlite3 ca/signet.db "PRAGMA integrity_check")" = ok
'

test_expect_success 'the upgraded table is in issuance order with a unique serial' '
	sqlite3 ca/signet.db .schema >schema.txt &&
	! grep -q "WITHOUT ROWID" schema.txt &&
	grep -q "serial TEXT NOT NULL UNIQUE" schema.txt &&
	sqlite3 ca/signet.db "SELECT serial FROM certs ORDER BY id" >by_id &&
	sqlite3 ca/signet.db "SELECT serial FROM certs ORDER BY issued_at, serial" >by_time &&
	cmp by_id by_time &&
	! sqlite3 ca/signet.db "INSERT INTO certs (serial, fingerprint, issuer, subject, profile,
		not_before, not_after, issued_at, der) SELECT serial, fingerprint, issuer, subject,
		profile, not_before, not_after, issued_at, der FROM certs LIMIT 1" 2>/dev/null &&
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = 6
'

test_expect_success 'revocations survive: same CRL entries, revoke, issue and sign work' '
	$SIGNET crl --out after.crl 2>/dev/null &&
	openssl crl -in before.crl -noout -text | grep -A2 "Serial Number" >e1 &&
	openssl crl -in after.crl -noout -text | grep -A2 "Serial Number" >e2 &&
	cmp e1 e2 &&
	test "$(grep -c "Serial Number" e2)" = 2 &&
	$SIGNET revoke d.example 2>/dev/null &&
	$SIGNET issue e.example >/dev/null 2>&1 &&
	mkcsr f "/CN=f" "DNS:f.example" &&
	$SIGNET sign f.csr --profile server --out f.crt 2>/dev/null &&
	test "$($SIGNET list --status revoked --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))")" = 3 &&
	test "$($SIGNET list --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))")" = 8
'

test_expect_success 'a migration that fails leaves the schema-2 database whole (9)' '
	sqlite3 v2.db "CREATE TABLE certs3 (x)" &&
	install_db v2.db &&
	expect_fail 9 "signet.db" $SIGNET list &&
	test "$(sqlite3 ca/signet.db "PRAGMA user_version")" = 2 &&
	test "$(sqlite3 ca/signet.db "SELECT count(*) FROM certs")" = 6 &&
	sqlite3 ca/signet.db .schema | grep -q "WITHOUT ROWID"
'

test_done
