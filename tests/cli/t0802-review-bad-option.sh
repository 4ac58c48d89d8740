#!/bin/bash
# t0802-review-bad-option.sh - an unknown option, or an option without its
# value, gives exit 2 and exactly one stderr line naming the option (getopt
# used to print a second line of its own before signet's "invalid option").
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"

for cmd in "key new" csr init sign issue show list export; do
	test_expect_success "$cmd: an unknown option is one line naming it (2)" "
		expect_fail 2 \"signet ${cmd% *}: unknown or ambiguous option '--bogus'\" \$SIGNET $cmd --bogus
	"
done

for c in "key new --type" "csr --key" "init --days" "sign x.csr --profile" "issue x --san" \
	"show --pass-file" "list --status" "export x --p12"; do
	test_expect_success "$c (no value): one line naming the option (2)" "
		expect_fail 2 \"option '${c##* }' needs a value\" \$SIGNET $c
	"
done

test_expect_success 'a value given to a flag is named (2)' "
	expect_fail 2 \"option '--json' takes no value\" \$SIGNET list --json=1
"

test_expect_success 'an unknown short option is named (2)' "
	expect_fail 2 \"unknown option '-x'\" \$SIGNET show -x file
"

test_done
