#!/bin/bash
# run.sh - the verification benchmark, side by side in one run:
#   signet_verify in one process (same intermediate repeating, so cached),
#   a plain X509_verify_cert loop in one process,
#   both again cold (1000 distinct intermediates, parsed afresh each run),
#   `openssl verify`, one process per chain,
#   and `openssl speed` single-core signature verifications as the ceiling.
# For ECDSA P-256 and RSA-2048 leaf+intermediate+root chains.  Prints
# medians of RUNS runs and the ratios.  Builds build-bench/ if needed.
#   usage: bench/verify/run.sh [RUNS]
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
B=${BUILD:-build-bench}
# Always (re)build: an incremental build is quick, a stale binary misleads.
[ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$B" -j2 --target bench_verify >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# signet verify benchmark: $(nproc) cores, $(openssl version)"
for alg in ec rsa; do
	mkdir -p "$tmp/$alg"
	"$B/bench/verify/bench_verify" $alg --runs "$RUNS" --ms 1000 --write "$tmp/$alg" | tee "$tmp/$alg.out"
	# openssl verify, one process per chain, 200 chains per run.
	for r in $(seq "$RUNS"); do
		s=$(date +%s%N)
		for i in $(seq 0 199); do
			openssl verify -CAfile "$tmp/$alg/root.pem" -untrusted "$tmp/$alg/inter.pem" \
				"$tmp/$alg/leaf$((i % 64)).pem" >/dev/null
		done
		e=$(date +%s%N)
		echo "200 * 1000000000 / ($e - $s)" | bc -l
	done | median >"$tmp/$alg.proc"
	name=$([ $alg = ec ] && echo "p256   " || echo "rsa2048")
	printf '%s openssl verify/proc %10.0f chains/s (median of %d runs of 200 processes)\n' \
		"$name" "$(cat "$tmp/$alg.proc")" "$RUNS"
	if [ $alg = ec ]; then what=ecdsap256; else what=rsa2048; fi
	v=$(openssl speed -seconds 2 $what 2>/dev/null | awk '/verify\/s/ {getline; print $NF}')
	printf '%s openssl speed       %10.0f verifications/s (ceiling: %.0f chains/s at 1 signature per chain, %.0f at 2)\n' \
		"$name" "$v" "$v" "$(echo "$v / 2" | bc -l)"
	s=$(awk '$2 == "signet_verify" {print $3}' "$tmp/$alg.out")
	printf '%s ratio signet/openssl-verify-process %.1f\n' "$name" "$(echo "$s / $(cat "$tmp/$alg.proc")" | bc -l)"
done
