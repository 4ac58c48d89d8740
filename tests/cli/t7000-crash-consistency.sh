#!/bin/bash
# t7000-crash-consistency.sh - SIGKILL at random points of a stream of
# issuances (issue, batch sign) and revocations loses nothing a user was
# told about and leaves no half-written key or certificate: the shortened
# run of tests/crash/crash_consistency.sh (30 cycles; CRASH_CYCLES=100 for
# the full suite).  Then the checker is shown to fail on a database that
# lost a handed-out record, and on a key left world-readable.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || test_skip_all "sqlite3 not installed"
command -v setsid >/dev/null || test_skip_all "setsid not installed"
CRASH=$SIGNET_SRCDIR/tests/crash/crash_consistency.sh
CYCLES=${CRASH_CYCLES:-30}

test_expect_success "$CYCLES SIGKILL cycles: every handed-out certificate recorded, serials unique, confirmed revocations kept, keys 0600 and whole" '
	CRASH_WORK=$TRASH/w bash "$CRASH" "$CYCLES" >crash.out 2>&1 || { cat crash.out; false; } &&
	cat crash.out &&
	grep "crash-consistency: $CYCLES cycles survived" crash.out
'

test_expect_success 'the checker catches a handed-out certificate missing from the database' '
	cp -r w lost &&
	crt=$(ls lost/out/*.crt | head -1) &&
	s=$(openssl x509 -in "$crt" -noout -serial | cut -d= -f2 | tr A-F a-f | sed "s/^0*//") &&
	sqlite3 lost/ca/signet.db "DELETE FROM certs WHERE serial = '\''$s'\''" &&
	out=$(bash "$CRASH" --check "$PWD/lost") ; code=$? &&
	test "$code" = 1 &&
	echo "$out" | grep "was handed out but is not in the database"
'

test_expect_success 'the checker catches a world-readable key and a torn certificate' '
	cp -r w exposed &&
	key=$(ls exposed/out/*.key | head -1) &&
	chmod 644 "$key" &&
	crt=$(ls exposed/out/*.crt | head -1) &&
	head -c 100 "$crt" >"$crt.cut" && mv "$crt.cut" "$crt" &&
	out=$(bash "$CRASH" --check "$PWD/exposed") ; code=$? &&
	test "$code" = 1 &&
	echo "$out" | grep "has mode 644" &&
	echo "$out" | grep "is not a complete certificate"
'

test_expect_success 'the checker catches a lost confirmed revocation' '
	cp -r w unrevoked &&
	s=$(sed -n "s/^revoked //p" unrevoked/journal | head -1 | tr A-F a-f | sed "s/^0*//") &&
	test -n "$s" &&
	sqlite3 unrevoked/ca/signet.db "UPDATE certs SET status = 0, revoked_at = NULL, reason = NULL WHERE serial = '\''$s'\''" &&
	bash "$CRASH" --check "$PWD/unrevoked" | grep "confirmed revocation of $s is not in the database"
'

test_done
