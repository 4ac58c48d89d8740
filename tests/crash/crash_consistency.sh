#!/usr/bin/env bash
# crash_consistency.sh [CYCLES] - kills signet with SIGKILL at random points
# of a stream of issuances and revocations, then checks that nothing a user
# was told about was lost and nothing half-done is left looking done.
#
# Each cycle starts a worker (its own process group) that runs, in a loop,
#   signet issue NAME            (key + certificate in one step)
#   signet sign a.csr b.csr ...  (a batch of 4, one transaction)
#   signet revoke SERIAL         (a certificate handed out earlier)
# and journals each success only after signet exited 0.  After a random
# 0-50 ms the whole group gets SIGKILL, mid-way through whatever signet
# was doing.  After CYCLES kills (default $CRASH_CYCLES, else 100):
#
#   1. every certificate handed out (a .crt in the output directory) parses
#      completely and is in the database with the same fingerprint;
#   2. no serial is used twice (in the database or among the files);
#   3. every revocation confirmed (exit 0) is revoked in the database;
#   4. PRAGMA integrity_check is "ok" and signet itself still opens the CA,
#      lists it, issues and revokes;
#   5. every key file (*.key, and any leftover temporary holding a private
#      key) is mode 0600 and parses with `openssl pkey`; every issued
#      NAME.crt has its NAME.key next to it, matching;
#   6. no leftover temporary file carries a final name (.crt/.key/.pem).
#
# Env: SIGNET (binary; default build/signet), CRASH_WORK (keep the work
# directory there instead of a removed temp dir), CRASH_VERBOSE=1.
# Prints "crash-consistency: N cycles survived" and exits 0 when all hold.
#
# crash_consistency.sh --check DIR runs only the checks on the work
# directory of an earlier run (kept with CRASH_WORK), so a test can show
# that the checks catch a lost record or an exposed key.
set -u
check_only=
in_signet=0
if [ "${1:-}" = --check ]; then
	check_only=1
	CRASH_WORK=${2:?usage: crash_consistency.sh --check DIR}
	cycles=0
else
	cycles=${1:-${CRASH_CYCLES:-100}}
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
SIGNET=${SIGNET:-$src/build/signet}
for tool in openssl sqlite3 setsid; do
	command -v "$tool" >/dev/null || { echo "crash-consistency: needs $tool" >&2; exit 77; }
done
[ -n "$check_only" ] || [ -x "$SIGNET" ] || { echo "crash-consistency: no signet binary at $SIGNET" >&2; exit 1; }

if [ -n "$check_only" ]; then
	W=$CRASH_WORK
elif [ -n "${CRASH_WORK:-}" ]; then
	W=$CRASH_WORK; rm -rf "$W"; mkdir -p "$W"
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/signet-crash.XXXXXX")
	trap 'rm -rf "$W"' EXIT
fi
cd "$W" || exit 1
fail=0
problem() { echo "FAIL: $*"; fail=1; }
say() { [ "${CRASH_VERBOSE:-0}" = 1 ] && echo "# $*"; return 0; }

if [ -z "$check_only" ]; then
"$SIGNET" init --dir ca --name "Crash Root CA" --intermediate --no-passphrase \
	>/dev/null 2>&1 || { echo "crash-consistency: init failed" >&2; exit 1; }
mkdir -p out pool
for k in 1 2 3 4; do
	"$SIGNET" key new --out pool/k$k.key >/dev/null 2>&1 &&
		"$SIGNET" csr --key pool/k$k.key --subject "CN=batch$k.example.com" \
			--san dns:batch$k.example.com --out pool/k$k.csr >/dev/null 2>&1 ||
		{ echo "crash-consistency: cannot make CSRs" >&2; exit 1; }
done
: >journal

# The worker: one endless stream of operations, journaling confirmations.
cat >worker.sh <<'WORKER'
cycle=$1
j=$((RANDOM % 3))
while :; do
	j=$((j + 1))
	case $((j % 3)) in
	0)	if "$SIGNET" issue "c$cycle-$j" --dir ca --profile server --out-dir out \
			>/dev/null 2>>worker.err; then
			echo "issued c$cycle-$j" >>journal
		fi ;;
	1)	b=batch-$cycle-$j
		mkdir -p "$b"
		for k in 1 2 3 4; do cp pool/k$k.csr "$b/b$cycle-$j-$k.csr"; done
		if "$SIGNET" sign "$b"/*.csr --dir ca --profile server --out-dir out \
			>/dev/null 2>>worker.err; then
			echo "signed $b" >>journal
		fi ;;
	2)	crt=$(ls out/*.crt 2>/dev/null | shuf -n 1)
		[ -n "$crt" ] || continue
		serial=$(openssl x509 -in "$crt" -noout -serial 2>/dev/null | cut -d= -f2)
		[ -n "$serial" ] || continue
		rc=0
		"$SIGNET" revoke "$serial" --dir ca --reason keyCompromise \
			>/dev/null 2>>worker.err || rc=$?
		case $rc in
		0) echo "revoked $serial" >>journal ;;
		11) ;; # already revoked (maybe confirmed in a killed cycle)
		*) echo "revoke-failed $rc $serial" >>journal ;;
		esac ;;
	esac
done
WORKER
export SIGNET

exec 3>&2 2>/dev/null # bash reports each killed job on stderr: noise here
for ((i = 1; i <= cycles; i++)); do
	setsid bash worker.sh "$i" </dev/null &
	pid=$!
	ms=$((RANDOM % 51))
	sleep "$(printf '0.%03d' "$ms")"
	if pgrep -g "$pid" -x signet >/dev/null 2>&1; then in_signet=$((in_signet + 1)); fi
	# Before setsid has run there is no group $pid yet: kill the process
	# itself then (it has not started any signet).  Loop until both the
	# worker and anything left in its group are gone.
	while kill -0 "$pid" 2>/dev/null || pgrep -g "$pid" >/dev/null 2>&1; do
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
		sleep 0.01
	done
	wait "$pid" 2>/dev/null
	say "cycle $i: killed after ${ms} ms"
done
exec 2>&3 3>&-

# Short cycles rarely reach a revocation before the kill; finish with a few
# confirmed ones so that check 3 always has something to check.
for crt in $(ls out/*.crt 2>/dev/null | shuf -n 3); do
	serial=$(openssl x509 -in "$crt" -noout -serial | cut -d= -f2)
	rc=0
	"$SIGNET" revoke "$serial" --dir ca >/dev/null 2>>worker.err || rc=$?
	[ "$rc" = 0 ] && echo "revoked $serial" >>journal
	[ "$rc" = 0 ] || [ "$rc" = 11 ] || problem "revoke of handed-out $serial after the crashes: exit $rc"
done
fi # not check_only

# ---- the checks ----------------------------------------------------------
db=ca/signet.db
ic=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1)
[ "$ic" = ok ] || problem "integrity_check: $ic"
"$SIGNET" list --dir ca --json >list.json 2>list.err || problem "signet list after the crashes: $(cat list.err)"
[ -n "$check_only" ] || "$SIGNET" issue after-crash --dir ca --profile server --out-dir out >/dev/null 2>&1 ||
	problem "signet issue after the crashes failed"

# lowercase hex, no leading zeros: the database's serial form
norm() { tr 'A-F' 'a-f' | sed 's/^0*//; s/^$/0/'; }

crts=0 handed=0
declare -A seen_serial=()
for crt in out/*.crt; do
	[ -e "$crt" ] || continue
	crts=$((crts + 1))
	if ! openssl x509 -in "$crt" -noout 2>/dev/null; then
		problem "$crt is not a complete certificate"
		continue
	fi
	handed=$((handed + 1))
	serial=$(openssl x509 -in "$crt" -noout -serial | cut -d= -f2 | norm)
	fp=$(openssl x509 -in "$crt" -outform DER | sha256sum | cut -d' ' -f1)
	row=$(sqlite3 "$db" "SELECT fingerprint FROM certs WHERE serial = '$serial'")
	[ -n "$row" ] || problem "$crt (serial $serial) was handed out but is not in the database"
	[ -z "$row" ] || [ "$row" = "$fp" ] ||
		problem "$crt: database holds another certificate under serial $serial"
	if [ -n "${seen_serial[$serial]:-}" ]; then
		problem "serial $serial used twice: ${seen_serial[$serial]} and $crt"
	fi
	seen_serial[$serial]=$crt
	# issue's certificates must have their key beside them
	base=${crt%.crt}
	case $(basename "$base") in
	c*-*|after-crash)
		if [ ! -e "$base.key" ]; then
			problem "$crt handed out without its key $base.key"
		else
			a=$(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null | sha256sum)
			b=$(openssl pkey -in "$base.key" -pubout 2>/dev/null | sha256sum)
			[ "$a" = "$b" ] || problem "$base.key does not match $crt"
		fi ;;
	esac
done
dups=$(sqlite3 "$db" "SELECT lower(ltrim(serial, '0')) s FROM certs GROUP BY s HAVING count(*) > 1")
[ -z "$dups" ] || problem "serials recorded twice: $dups"
dbrows=$(sqlite3 "$db" 'SELECT count(*) FROM certs')

confirmed=0
while read -r what arg rest; do
	case $what in
	revoked)
		confirmed=$((confirmed + 1))
		s=$(echo "$arg" | norm)
		st=$(sqlite3 "$db" "SELECT status FROM certs WHERE serial = '$s'")
		[ "$st" = 1 ] || problem "confirmed revocation of $s is not in the database (status '$st')" ;;
	revoke-failed)
		problem "revoke of handed-out serial $rest failed with exit $arg" ;;
	esac
done < <(grep -a -E '^(revoked|revoke-failed) ' journal)
# confirmed issuances: their files must exist
while read -r what arg; do
	case $what in
	issued) [ -e "out/$arg.crt" ] && [ -e "out/$arg.key" ] ||
		problem "issue $arg was confirmed but out/$arg.crt or .key is missing" ;;
	esac
done < <(grep -a -E '^issued ' journal)

keys=0
for f in out/* ca/*; do
	[ -f "$f" ] || continue
	case $f in
	*.key) ;;
	*) grep -qa 'PRIVATE KEY' "$f" 2>/dev/null || continue ;;
	esac
	mode=$(stat -c %a "$f")
	case $f in
	*.tmp.*) # an interrupted write: must still be private
		[ "$mode" = 600 ] || problem "leftover temporary key $f has mode $mode" ;;
	*)	keys=$((keys + 1))
		[ "$mode" = 600 ] || problem "$f has mode $mode, not 600"
		openssl pkey -in "$f" -noout 2>/dev/null || problem "$f is not a complete private key" ;;
	esac
done
temps=0
for f in out/*.tmp.* ca/*.tmp.*; do
	[ -e "$f" ] || continue
	temps=$((temps + 1))
	case $f in
	*.crt|*.key|*.pem) problem "temporary $f carries a final name" ;;
	esac
done

echo "# cycles: $cycles (kill landed while signet ran: $in_signet)"
echo "# certificates handed out: $handed of $crts .crt files; database rows: $dbrows"
echo "# confirmed issue commands: $(grep -c '^issued ' journal); sign batches: $(grep -c '^signed ' journal)"
echo "# confirmed revocations: $confirmed; key files checked: $keys; leftover temporaries: $temps"
if [ "$fail" = 0 ]; then
	echo "crash-consistency: $cycles cycles survived"
else
	echo "crash-consistency: FAILED after $cycles cycles"
fi
exit $fail
