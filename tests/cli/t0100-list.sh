#!/bin/bash
# t0100-list.sh - `signet list`: every record, --status valid|revoked|expired,
# --expiring DUR, and --json.  Certificates cannot be issued already expired,
# so "expired" and "revoked" rows are made by editing the database with the
# sqlite3 shell (revocation commands come with a later issue).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase
export SIGNET_DIR=$TRASH/ca

names() { # list options... -> sorted names, one a line
	$SIGNET list --json "$@" | $PYTHON -c "import json,sys; print(\"\n\".join(sorted(str(r[\"name\"]) for r in json.load(sys.stdin))))"
}

test_expect_success 'setup: certificates for 10, 100 and 365 days' '
	ca_init ca &&
	$SIGNET issue short.example --days 10 >/dev/null &&
	$SIGNET issue medium.example --days 100 >/dev/null &&
	$SIGNET issue long.example >/dev/null
'

test_expect_success 'list shows a header and every record' '
	$SIGNET list >l.txt &&
	head -1 l.txt | grep -q SERIAL &&
	test "$(($(wc -l <l.txt) - 1))" = 5 &&
	grep -q "CN=short.example" l.txt && grep -q "CN=Test Root CA" l.txt
'

test_expect_success 'list --json parses, with the fields a script needs' '
	$SIGNET list --json >l.json &&
	$PYTHON - <<-PY
	import json
	recs = json.load(open("l.json"))
	assert len(recs) == 5, recs
	for r in recs:
	    for k in ("serial", "name", "subject", "sans", "profile", "status", "not_before",
	              "not_after", "days_left", "fingerprint"):
	        assert k in r, (k, r)
	    assert r["status"] == "valid"
	short = [r for r in recs if r["name"] == "short.example"][0]
	assert short["days_left"] in (9, 10), short
	assert short["sans"] == "dns:short.example", short
	PY
'

test_expect_success 'list serials and fingerprints match the certificate files' '
	s=$(openssl x509 -in medium.example.crt -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
	f=$(openssl x509 -in medium.example.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) &&
	$SIGNET list --json | grep -q "\"serial\": \"$s\"" &&
	$SIGNET list --json | grep -q "\"fingerprint\": \"$f\""
'

test_expect_success '--expiring 30d shows only the 10-day certificate' '
	test "$(names --expiring 30d)" = short.example
'

test_expect_success '--expiring 200d shows the 10 and 100-day certificates' '
	test "$(names --expiring 200d | tr "\n" " ")" = "medium.example short.example "
'

test_expect_success '--expiring 1d shows nothing' '
	test -z "$(names --expiring 1d)" &&
	test "$($SIGNET list --expiring 1d | wc -l)" = 1
'

test_expect_success '--expiring accepts hours (300h = 12.5 days)' '
	test "$(names --expiring 300h)" = short.example
'

test_expect_success '--status valid lists all five; expired and revoked none' '
	test "$(names --status valid | wc -l)" = 5 &&
	test -z "$(names --status expired)" &&
	test -z "$(names --status revoked)"
'

test_expect_success 'a record whose notAfter has passed is listed as expired' '
	sqlite3 ca/signet.db "UPDATE certs SET not_after = strftime(\"%s\",\"now\") - 86400 WHERE name = \"long.example\"" &&
	test "$(names --status expired)" = long.example &&
	! names --status valid | grep -q long.example &&
	! names --expiring 30d | grep -q long.example &&
	$SIGNET list --json | grep -A6 "\"name\": \"long.example\"" | grep -q "\"status\": \"expired\""
'

test_expect_success 'a revoked record is listed as revoked only' '
	sqlite3 ca/signet.db "UPDATE certs SET status = 1, revoked_at = 1, reason = 1 WHERE name = \"medium.example\"" &&
	test "$(names --status revoked)" = medium.example &&
	! names --status valid | grep -q medium.example &&
	! names --expiring 200d | grep -q medium.example
'

test_expect_success 'signet revoke, when it exists, shows up in --status revoked' '
	if ! $SIGNET revoke --help >/dev/null 2>&1; then echo "# no signet revoke yet: skipped"; exit 0; fi
	s=$(openssl x509 -in short.example.crt -noout -serial | cut -d= -f2) &&
	$SIGNET revoke "$s" >/dev/null 2>&1 &&
	names --status revoked | grep -q short.example
'

test_expect_success 'bad --status and --expiring values are usage errors (2)' '
	expect_fail 2 "status" $SIGNET list --status gone &&
	expect_fail 2 "expiring" $SIGNET list --expiring soon &&
	expect_fail 2 "expiring" $SIGNET list --expiring 30w
'

test_expect_success 'list needs no passphrase (and no terminal)' '
	env -u SIGNET_PASS_FILE setsid $SIGNET list </dev/null >/dev/null
'

test_done
