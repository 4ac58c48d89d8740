#!/bin/bash
# t0085-init-interrupted.sh - init stopped by SIGINT, SIGTERM or SIGHUP at
# any moment leaves either a whole CA or nothing: never a directory with
# keys but no config, or a config without its database.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

# The CA directory after an interrupted init: absent, empty, or a CA that
# lists its two certificates.
whole_or_nothing() { # dir
	if [ -e "$1/signet.json" ]; then
		test "$($SIGNET list --dir "$1" --json |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2
	elif [ -e "$1" ] && [ -n "$(ls -A "$1")" ]; then
		echo "half a CA left behind in $1:" && ls -A "$1" && return 1
	fi
}

test_expect_success 'an uninterrupted init makes a whole CA' '
	start=$(date +%s%N) &&
	$SIGNET init --dir whole --name "Whole CA" --intermediate >/dev/null &&
	end=$(date +%s%N) &&
	echo "init took $(( (end - start) / 1000000 )) ms" &&
	whole_or_nothing whole
'

# Sends signal $1 to init after 2, 5, ... 119 ms: 40 runs, each checked.
interrupt_many() { # signal
	local n=0 ms
	for ms in $(seq 2 3 119); do
		n=$((n + 1))
		timeout -s "$1" "0.$(printf %03d "$ms")" \
			$SIGNET init --dir "ca-$1-$ms" --name "CA $ms" --intermediate \
			>/dev/null 2>&1
		whole_or_nothing "ca-$1-$ms" || return 1
	done
	test $n = 40
}

for sig in INT TERM HUP; do
	test_expect_success "SIG$sig at 40 moments during init: a whole CA or nothing" \
		"interrupt_many $sig"
done

test_done
