#!/bin/bash
# t0085-init-interrupted.sh - init stopped by SIGINT, SIGTERM, SIGHUP or
# SIGKILL at any moment leaves either a whole CA or nothing: never a
# directory with keys but no config, or a config without its database.
# SIGKILL cannot be caught: what it leaves is a hidden staging directory,
# which the next init of that directory removes.  Of two inits racing for
# one directory, exactly one makes it, whole.
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

# A CA that either init of a race made: its records and its root key match.
whole_or_one() { # dir
	local n
	n=$($SIGNET list --dir "$1" --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)))") &&
	{ test "$n" = 1 || test "$n" = 2; } &&
	test "$(openssl x509 -in "$1/root.crt" -noout -pubkey)" = \
		"$(openssl pkey -in "$1/root.key" -pubout)" &&
	{ test "$n" = 1 || test -e "$1/intermediate.key"; }
}

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

for sig in INT TERM HUP KILL; do
	test_expect_success "SIG$sig at 40 moments during init: a whole CA or nothing" \
		"interrupt_many $sig"
done

test_expect_success 'SIGKILL left only hidden staging directories, no keys elsewhere' '
	ls -A | grep "^\.ca-KILL-.*\.init-......$" >stages &&
	test -s stages &&
	! find . -mindepth 1 -maxdepth 1 -type d | grep -v -e "^\./ca-" -e "^\./\.ca-KILL-" -e "^\./whole$"
'

test_expect_success 'the next init of such a directory removes its staging directory' '
	d=$(sed -n "1s/^\.\(.*\)\.init-......$/\1/p" stages) &&
	test -n "$d" && test ! -e "$d" &&
	$SIGNET init --dir "$d" --name "Again CA" --intermediate >/dev/null &&
	whole_or_nothing "$d" && test -e "$d/signet.json" &&
	! ls -A | grep -q "^\.$d\.init-"
'

# Two inits at once for one directory, 15 times: one makes it, the other
# fails (11) and removes only its own files.
race() { # dir
	$SIGNET init --dir "$1" --name "A CA" --no-passphrase >/dev/null 2>"$1.a" &
	$SIGNET init --dir "$1" --name "B CA" --intermediate --no-passphrase >/dev/null 2>"$1.b"
	echo $? >"$1.rb"
	wait $!
	echo $? >"$1.ra"
}
test_expect_success 'two inits racing for a new directory: one whole CA' '
	for i in $(seq 15); do
		race "race$i" &&
		test "$(cat race$i.ra race$i.rb | sort | tr "\n" " ")" = "0 11 " &&
		test -e "race$i/signet.json" &&
		whole_or_one "race$i" || exit 1
	done
'

test_expect_success 'two inits racing for an existing empty directory: one whole CA' '
	for i in $(seq 15); do
		mkdir "pre$i" &&
		race "pre$i" &&
		test "$(cat pre$i.ra pre$i.rb | sort | tr "\n" " ")" = "0 11 " &&
		whole_or_one "pre$i" || exit 1
	done
'

test_done
