#!/usr/bin/env bash
# bench/issue/run.sh - issuance throughput, signet side by side with its peers.
#
# All tools sign ECDSA P-256 CSRs (fresh key each, made by Python
# cryptography beforehand, not timed) with the same unencrypted P-256
# intermediate key, server profile, one DNS SAN, into files on the same disk:
#   signet batch         one `signet sign --out-dir` process for BATCH CSRs,
#                        each certificate committed to SQLite (synchronous)
#                        and written with its chain file
#   signet batch, one file
#                        the same BATCH CSRs in one `signet sign --out FILE`
#                        process: every certificate in one file (fsync'ed)
#   openssl ca -infiles  the same BATCH CSRs in one `openssl ca` process
#                        (a SERIAL.pem per certificate and one -out file)
#   signet per-process   one `signet sign --out` process per certificate
#                        (the file fsync'ed with its directory)
#   signet per-process, stdout
#                        the same, the certificate on stdout redirected to a
#                        file, as cfssl's is (no fsync of the file)
#   openssl x509 -req    one process per certificate
#   openssl ca -batch    one process per certificate (index.txt + serial)
#   cfssl sign           one process per certificate (if cfssl is installed)
# and `openssl speed ecdsap256` sign rate on one core as the ceiling, with
# the bound that sign + verify per CSR puts on all cores together.
# Each measurement runs RUNS times, in rounds that take every tool in turn;
# the median is reported.
#
# Usage: bench/issue/run.sh [BATCH (default 5000)] [PER_PROCESS (default 200)] [RUNS (default 3)]
# BENCH_DIR=/some/dir chooses where the files go (default: a temp dir under $TMPDIR or /var/tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
BATCH=${1:-5000}
PER=${2:-200}
RUNS=${3:-3}
SIGNET=${SIGNET:-$src/build/signet}
[ -x "$SIGNET" ] || { echo "build signet first (scripts/build.sh)"; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/var/tmp}}/signet-bench-issue.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN {printf "%.0f", n / t}'; }

echo "# generating $BATCH CSRs (Python cryptography, not timed)"
python3 "$here/gencsr.py" csrs "$BATCH"
"$SIGNET" init --name "Bench Root CA" --intermediate --no-passphrase --dir ca >/dev/null 2>&1
CA=ca/intermediate.crt CAKEY=ca/intermediate.key

# openssl ca set-up: same CA key, server profile extensions.
mkdir -p ossl
: >ossl/index.txt
cat >ossl/ca.cnf <<CNF
[ ca ]
default_ca = bench
[ bench ]
dir = $work/ossl
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
rand_serial = yes
certificate = $work/$CA
private_key = $work/$CAKEY
default_md = sha256
default_days = 365
policy = anything
copy_extensions = copy
unique_subject = no
x509_extensions = server
[ anything ]
commonName = supplied
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >x509.ext

declare -A R
# measure "NAME|COUNT|FUNCTION" ...: RUNS rounds; each round runs every
# entry once, in turn, so that the machine's drift falls on all of them
# alike; then the median time of each.
measure() {
	local -A ts=()
	local e name n fn r t0 t1 med
	for r in $(seq "$RUNS"); do
		for e in "$@"; do
			IFS='|' read -r name n fn <<<"$e"
			t0=$(now)
			"$fn" "$r"
			t1=$(now)
			ts[$name]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') "
		done
	done
	for e in "$@"; do
		IFS='|' read -r name n fn <<<"$e"
		med=$(printf '%s\n' ${ts[$name]} | median)
		R[$name]=$(rate "$n" "$med")
		printf '%-22s %8s certs/s   (median of %d runs, %d certs, %.3f s)\n' "$name" "${R[$name]}" "$RUNS" "$n" "$med"
	done
}

signet_batch() { "$SIGNET" sign csrs/*.csr --profile server --dir ca --out-dir "batch$1" 2>/dev/null; }
signet_batch_file() { "$SIGNET" sign csrs/*.csr --profile server --dir ca --out "bundle$1.pem" 2>/dev/null; }
ossl_ca_infiles() { # its own index.txt: the per-process openssl ca reads the whole index
	mkdir -p "ob$1"
	openssl ca -batch -config ossl-batch/ca.cnf -outdir "ob$1" -out "ob$1/all.pem" -notext \
		-infiles csrs/*.csr 2>/dev/null
}
signet_proc() {
	mkdir -p "sp$1"
	for i in $(seq 0 $((PER - 1))); do
		"$SIGNET" sign "csrs/csr$(printf %05d "$i").csr" --profile server --dir ca --out "sp$1/$i.crt"
	done
}
signet_proc_stdout() {
	mkdir -p "ss$1"
	for i in $(seq 0 $((PER - 1))); do
		"$SIGNET" sign "csrs/csr$(printf %05d "$i").csr" --profile server --dir ca >"ss$1/$i.crt"
	done
}
# Random serials for openssl x509, drawn before the clock starts so that
# only the signing processes are timed.
python3 -c "import secrets; [print('0x4' + secrets.token_hex(16)[1:]) for _ in range($PER * $RUNS)]" >serials.txt
mapfile -t SERIALS <serials.txt
ossl_x509() {
	mkdir -p "ox$1"
	for i in $(seq 0 $((PER - 1))); do
		openssl x509 -req -in "csrs/csr$(printf %05d "$i").csr" -CA $CA -CAkey $CAKEY \
			-set_serial "${SERIALS[$(( ($1 - 1) * PER + i ))]}" -days 365 \
			-extfile x509.ext -out "ox$1/$i.crt" 2>/dev/null
	done
}
ossl_ca() {
	mkdir -p "oc$1"
	for i in $(seq 0 $((PER - 1))); do
		openssl ca -batch -config ossl/ca.cnf -in "csrs/csr$(printf %05d "$i").csr" \
			-out "oc$1/$i.crt" -notext 2>/dev/null
	done
}
cfssl_sign() {
	mkdir -p "cf$1"
	for i in $(seq 0 $((PER - 1))); do
		cfssl sign -ca $CA -ca-key $CAKEY -profile server -config cfssl.json \
			"csrs/csr$(printf %05d "$i").csr" 2>/dev/null >"cf$1/$i.json"
	done
}

echo "# openssl $(openssl version | awk '{print $2}'), $(nproc) cores, files on $(df -P . | awk 'NR==2 {print $1}')"
read -r ceiling verify < <(openssl speed -seconds 3 ecdsap256 2>/dev/null |
	awk '/nistp256/ {print int($(NF-1)), int($NF)}')
# Every CSR's signature is verified (proof of possession) before its
# certificate is signed, so with nothing else done at all, all cores
# together issue at most cores / (1/sign + 1/verify) certificates per second.
bound=$(awk -v s="$ceiling" -v v="$verify" -v n="$(nproc)" 'BEGIN {printf "%.0f", n / (1 / s + 1 / v)}')
printf '%-22s %8s signs/s   (openssl speed ecdsap256, one core: the ceiling)\n' "P-256 sign" "$ceiling"
printf '%-22s %8s verifies/s (the same run; a CSR costs one of each)\n' "P-256 verify" "$verify"
printf '%-22s %8s certs/s  (%d cores doing nothing but sign + verify: %.2f of the ceiling)\n' \
	"zero-overhead bound" "$bound" "$(nproc)" "$(awk -v b="$bound" -v c="$ceiling" 'BEGIN {print b / c}')"
mkdir -p ossl-batch && : >ossl-batch/index.txt
sed "s|$work/ossl\$|$work/ossl-batch|" ossl/ca.cnf >ossl-batch/ca.cnf
measure "signet batch|$BATCH|signet_batch" "signet batch, one file|$BATCH|signet_batch_file" \
	"openssl ca -infiles|$BATCH|ossl_ca_infiles"
per=("signet per-process|$PER|signet_proc" "signet pp, stdout|$PER|signet_proc_stdout"
	"openssl x509 -req|$PER|ossl_x509" "openssl ca -batch|$PER|ossl_ca")
if command -v cfssl >/dev/null 2>&1; then
	echo '{"signing":{"profiles":{"server":{"usages":["digital signature","server auth"],"expiry":"8760h"}}}}' >cfssl.json
	per+=("cfssl sign|$PER|cfssl_sign")
fi
measure "${per[@]}"

echo
echo "# ratios"
awk -v b="${R[signet batch]}" -v f="${R[signet batch, one file]}" -v c="$ceiling" \
	'BEGIN {printf "signet batch / P-256 sign ceiling      %.2f  (one file: %.2f)\n", b / c, f / c}'
awk -v b="${R[signet batch]}" -v f="${R[signet batch, one file]}" -v c="$bound" \
	'BEGIN {printf "signet batch / zero-overhead bound     %.2f  (one file: %.2f)\n", b / c, f / c}'
awk -v b="${R[signet batch]}" -v f="${R[signet batch, one file]}" -v o="${R[openssl ca -infiles]}" \
	'BEGIN {printf "signet batch / openssl ca -infiles     %.2fx  (one file: %.2fx)\n", b / o, f / o}'
for peer in "openssl x509 -req" "openssl ca -batch" "cfssl sign"; do
	[ -n "${R[$peer]:-}" ] || continue
	awk -v s="${R[signet per-process]}" -v o="${R[signet pp, stdout]}" -v p="${R[$peer]}" -v n="$peer" \
		'BEGIN {printf "signet per-process / %-18s %.2fx  (stdout: %.2fx)\n", n, s / p, o / p}'
done
# sanity: what signet issued verifies with openssl
openssl verify -x509_strict -purpose sslserver -CAfile ca/root.crt -untrusted $CA batch1/csr00000.crt >/dev/null
echo "signet batch records in the database: $("$SIGNET" list --dir ca --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)) - 2)')"
