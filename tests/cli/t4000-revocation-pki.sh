#!/bin/bash
# t4000-revocation-pki.sh - the CA and helpers of the revocation scenarios
# (t4xxx).  Sourced by them after lib.sh; run on its own it checks that the
# fixture is what they assume (a signet CA with an intermediate, three
# server/client certificates that verify with openssl).

[ "${BASH_SOURCE[0]}" = "$0" ] && . "$(dirname "$0")/lib.sh"

# rev_pki [--ocsp-url URL]: CA in $TRASH/ca, certificates a, b, c (client
# profile, so nginx can use them) and chain.pem = intermediate + root.
rev_pki() {
	export SIGNET_DIR="$TRASH/ca"
	"$SIGNET" init --name "Rev Root" --intermediate --no-passphrase "$@" >/dev/null 2>&1 || return 1
	for n in a b c; do
		"$SIGNET" issue "$n" --profile client --out-dir "$TRASH" >/dev/null 2>&1 || return 1
	done
	cat "$TRASH/ca/intermediate.crt" "$TRASH/ca/root.crt" >"$TRASH/chain.pem"
}

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# start_ocsp NAME PORT [args]: `signet ocsp serve` in the background, log in NAME.log.
start_ocsp() {
	local name=$1 port=$2
	shift 2
	"$SIGNET" ocsp serve --listen "127.0.0.1:$port" --poll-ms 200 "$@" >"$TRASH/$name.log" 2>&1 &
	eval "${name}_PID=$!"
	test_on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
	wait_port 127.0.0.1 "$port" 200
}

# ocsp_ask CERT PORT [openssl args]: openssl ocsp against the responder.
ocsp_ask() {
	local cert=$1 port=$2
	shift 2
	openssl ocsp -issuer "$TRASH/ca/intermediate.crt" -cert "$cert" \
		-url "http://127.0.0.1:$port" -CAfile "$TRASH/ca/root.crt" -timeout 10 "$@" 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	test_expect_success 'the revocation fixture: a CA and three certificates that verify' '
		rev_pki &&
		for n in a b c; do
			openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt $n.crt
		done
	'
	test_done
fi
