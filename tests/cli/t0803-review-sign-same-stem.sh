#!/bin/bash
# t0803-review-sign-same-stem.sh - a batch whose CSRs share a file stem
# (a/x.csr, b/x.csr) is refused before anything is recorded: --out-dir
# would otherwise write one certificate over the other after issuing both.
. "$(dirname "$0")/lib.sh"
. "$SIGNET_SRCDIR/tests/cli/t0010-helpers.sh"
use_test_passphrase

count() { $SIGNET list --dir ca --json | $PYTHON -c "import json,sys; print(len(json.load(sys.stdin)))"; }

test_expect_success 'setup: a CA and two CSRs named x.csr in two directories' '
	ca_init ca && mkdir a b &&
	mkcsr a/x "/CN=a" "DNS:a.example.com" &&
	mkcsr b/x "/CN=b" "DNS:b.example.com"
'

test_expect_success 'the batch is refused (2), naming both files, and nothing is recorded' '
	before=$(count) &&
	expect_fail 2 "a/x.csr and b/x.csr would both be written as x.crt" \
		$SIGNET sign --dir ca a/x.csr b/x.csr --profile server --out-dir out &&
	test "$(count)" = "$before" && test ! -e out/x.crt
'

test_expect_success 'distinct stems still sign as a batch' '
	cp b/x.csr y.csr &&
	$SIGNET sign --dir ca a/x.csr y.csr --profile server --out-dir out 2>/dev/null &&
	test -s out/x.crt && test -s out/y.crt
'

test_done
