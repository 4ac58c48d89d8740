#!/bin/bash
# t7010-config-database-path.sh - a relative "database" path in signet.json
# is relative to the CA directory, whichever directory signet runs in.
# Regression test for docs/FINDINGS.md #3: a plain relative path used to be
# opened relative to the current directory, so running signet elsewhere
# created a fresh, empty database there and recorded issuances in it.
# (Since then a CA's database must exist: one that is missing is refused.)
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a CA whose signet.json names a plain relative database' '
	$SIGNET init --dir ca --name "Path Root" --no-passphrase 2>/dev/null &&
	$PYTHON -c "
import json; c = json.load(open(\"ca/signet.json\"))
c[\"database\"] = \"records.db\"; json.dump(c, open(\"ca/signet.json\", \"w\"))" &&
	for f in signet.db signet.db-wal signet.db-shm; do
		if test -e ca/$f; then mv ca/$f ca/records.db${f#signet.db}; fi
	done &&
	mkdir elsewhere
'

test_expect_success 'a database path that names no file is refused (9), nothing created' '
	cp ca/signet.json json.bak &&
	sed -i "s/records.db/nothere.db/" ca/signet.json &&
	(cd elsewhere && ! $SIGNET list --dir ../ca 2>err; grep -q "nothere.db: the CA database is missing" err) &&
	! test -e ca/nothere.db && ! test -e elsewhere/nothere.db &&
	cp json.bak ca/signet.json
'

test_expect_success 'issuing from another directory records into DIR/records.db' '
	(cd elsewhere && $SIGNET issue web.example.com --dir ../ca --out-dir . >/dev/null) &&
	test -f ca/records.db &&
	! test -e elsewhere/records.db
'

test_expect_success 'the record is seen from any directory' '
	$SIGNET list --dir ca --json | grep web.example.com &&
	(cd elsewhere && $SIGNET list --dir ../ca --json | grep web.example.com)
'

test_done
