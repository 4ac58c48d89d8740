#!/bin/bash
# t0804-review-valgrind.sh - the offline-CA commands leak nothing on their
# error paths (valgrind, definite leaks are errors: exit 99), and still
# exit with the documented code.  show used to leak its result array on
# every early return (usage error, unreadable file).
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
command -v valgrind >/dev/null || test_skip_all "valgrind not installed"
ldd "$SIGNET" 2>/dev/null | grep -q libasan && test_skip_all "ASan build: LeakSanitizer checks it already"
ldd "$SIGNET" 2>/dev/null | grep -q libtsan && test_skip_all "TSan build: valgrind cannot run it"
use_test_passphrase

VG() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "$@"; }

test_expect_success 'setup: a CA and a CSR' '
	ca_init ca && mkcsr a "/CN=a" "DNS:a.example.com"
'

test_expect_success 'show: missing file (3), bad option (2), extra argument (2): no leak' '
	expect_fail 3 "nope.crt" VG $SIGNET show nope.crt &&
	expect_fail 2 "--bogus" VG $SIGNET show --bogus &&
	expect_fail 2 "one FILE" VG $SIGNET show a b
'

test_expect_success 'sign, list, export, csr, key on error paths: no leak' '
	expect_fail 7 "outlive" VG $SIGNET sign --dir ca a.csr --profile server --days 5000 --out x.crt &&
	expect_fail 10 "no certificate" VG $SIGNET export nope --dir ca --chain c.pem &&
	expect_fail 2 "--status" VG $SIGNET list --dir ca --status bogus &&
	expect_fail 3 "nokey" VG $SIGNET csr --key nokey --subject CN=x &&
	expect_fail 2 "unknown key type" VG $SIGNET key new --type dsa
'

test_expect_success 'typical runs: no leak' '
	VG $SIGNET sign --dir ca a.csr --profile server --out a.crt &&
	VG $SIGNET show a.crt >/dev/null &&
	VG $SIGNET list --dir ca --json >/dev/null
'

test_done
