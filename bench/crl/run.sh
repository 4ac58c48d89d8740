#!/bin/bash
# bench/crl/run.sh - CRL generation time and size, signet vs `openssl ca
# -gencrl`, on the same revocation set (10k, 100k, 1M revoked entries).
# usage: bench/crl/run.sh [SIGNET-BINARY] [SIZES...]   (never run by ctest)
# The revocation set is inserted straight into the CA's SQLite database,
# and the same serials, dates and reasons are written as openssl's
# index.txt.  Prints medians of 3 runs and the ratio.
set -eu
SIGNET=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/signet}
shift || true
SIZES=${*:-10000 100000 1000000}
W=$(mktemp -d /tmp/signet-bench-crl.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
export SIGNET_DIR=$W/ca
"$SIGNET" init --name "Bench Root" --intermediate --no-passphrase >/dev/null 2>&1
"$SIGNET" issue seed --profile server >/dev/null 2>&1
ISS=$(sqlite3 ca/signet.db "SELECT issuer FROM certs WHERE profile='server'")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_s() { date +%s.%N; }

printf "%-9s %12s %12s %8s %14s %14s\n" entries signet_s openssl_s ratio signet_bytes openssl_bytes
for N in $SIZES; do
	sqlite3 ca/signet.db "DELETE FROM certs WHERE fingerprint LIKE 'bench%'"
	sqlite3 ca/signet.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $N)
	  INSERT INTO certs (serial, fingerprint, issuer, subject, profile, not_before, not_after,
	    issued_at, status, revoked_at, reason, der)
	  SELECT printf('%x', 1152921504606846976 + i*7919), 'bench'||i, '$ISS', 'CN=b', 'server',
	    1700000000, 1900000000, 1700000000, 1, 1700000000 + i, i % 6, x'00' FROM n"
	# openssl's view of the same set
	mkdir -p ossl && : >ossl/index.txt && echo 01 >ossl/crlnumber
	# openssl's view of the same set (python: a date(1) per line is too slow)
	if true; then
		python3 - "$N" <<-'PY'
		import sqlite3, sys, time
		R = ["unspecified","keyCompromise","CACompromise","affiliationChanged","superseded","cessationOfOperation"]
		db = sqlite3.connect("ca/signet.db")
		with open("ossl/index.txt","w") as f:
		    for s, t, r in db.execute("SELECT serial, revoked_at, reason FROM certs WHERE fingerprint LIKE 'bench%'"):
		        if len(s) % 2: s = "0" + s
		        d = time.strftime("%y%m%d%H%M%SZ", time.gmtime(t))
		        f.write(f"R\t300101000000Z\t{d},{R[r]}\t{s.upper()}\tunknown\t/CN=b\n")
		PY
	fi
	cat >ossl/ca.cnf <<-CNF
	[ ca ]
	default_ca = d
	[ d ]
	database = $W/ossl/index.txt
	crlnumber = $W/ossl/crlnumber
	certificate = $W/ca/intermediate.crt
	private_key = $W/ca/intermediate.key
	default_md = sha256
	default_crl_days = 7
	crl_extensions = crl_ext
	[ crl_ext ]
	authorityKeyIdentifier = keyid:always
	CNF
	runs=3
	st=(); ot=()
	for r in $(seq $runs); do
		t0=$(now_s); "$SIGNET" crl --der --out s.der 2>/dev/null; t1=$(now_s)
		st+=("$(echo "$t1 - $t0" | bc)")
		t0=$(now_s); openssl ca -gencrl -config ossl/ca.cnf -out o.pem 2>/dev/null; t1=$(now_s)
		ot+=("$(echo "$t1 - $t0" | bc)")
	done
	openssl crl -inform DER -in s.der -noout -verify -CAfile ca/intermediate.crt 2>&1 | grep -q "verify OK"
	openssl crl -in o.pem -outform DER -out o.der
	sm=$(printf '%s\n' "${st[@]}" | median); om=$(printf '%s\n' "${ot[@]}" | median)
	printf "%-9s %12.3f %12.3f %7.1fx %14d %14d\n" "$N" "$sm" "$om" "$(echo "$om / $sm" | bc -l)" \
		"$(stat -c %s s.der)" "$(stat -c %s o.der)"
done
