# lib.sh - a tiny test library for signet's shell scenarios, after git's t/.
#
# A scenario file sources this, then calls
#   test_expect_success 'what it shows' 'commands'
#   test_expect_code CODE 'what it shows' 'commands'   (exit status must be CODE)
# and ends with test_done.  Each scenario runs in its own temporary
# directory ($TRASH), removed at exit with every process registered through
# test_on_exit.  $SIGNET is the binary under test (set by ctest; falls back
# to ./build/signet).  Ports come from free_port, never hard-coded.
set -u

SIGNET_SRCDIR=${SIGNET_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SIGNET=${SIGNET:-$SIGNET_SRCDIR/build/signet}
SHARED=${SHARED:-$SIGNET_SRCDIR/../shared}
export SIGNET SIGNET_SRCDIR SHARED
unset SIGNET_DIR SIGNET_PASS_FILE

test_name=$(basename "$0" .sh)
test_count=0
test_failed=0

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/signet-$test_name.XXXXXX")
cd "$TRASH" || exit 1

# Registrations go to a file in $TRASH, not a shell variable: test bodies
# run in subshells, and what a body added to a variable would be lost.
test_on_exit() { printf '%s\n' "$1" >>"$TRASH/.on-exit"; }

_test_cleanup() {
	local i line
	local -a cmds=()
	if [ -f "$TRASH/.on-exit" ]; then
		while IFS= read -r line; do cmds+=("$line"); done <"$TRASH/.on-exit"
	fi
	for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do
		eval "${cmds[$i]}" >/dev/null 2>&1 || true
	done
	cd / && rm -rf "$TRASH"
}
trap _test_cleanup EXIT

# Python with the `cryptography` package, used as an independent oracle.
PYTHON=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import cryptography' 2>/dev/null; then PYTHON=$p; break; fi
done
export PYTHON

_run() {
	# Runs the body in a subshell with errexit so any failing step fails it.
	(set -e; eval "$1") >"$TRASH/.out" 2>&1
}

_report() {
	test_count=$((test_count + 1))
	if [ "$1" = ok ]; then
		echo "ok $test_count - $2"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $2"
		sed 's/^/#   /' "$TRASH/.out" | tail -40
	fi
}

test_expect_success() {
	if _run "$2"; then _report ok "$1"; else _report fail "$1"; fi
}

test_expect_code() {
	local want=$1 got=0
	_run "$3" || got=$?
	if [ "$got" = "$want" ]; then
		_report ok "$2"
	else
		echo "#   expected exit $want, got $got" >>"$TRASH/.out"
		_report fail "$2"
	fi
}

test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 77
}

test_done() {
	echo "# $test_name: $((test_count - test_failed)) passed, $test_failed failed"
	[ "$test_failed" -eq 0 ]
	exit $?
}

# Helpers for the scenarios.
# free_port: a port on 127.0.0.1 that nothing listens on.  Each script has
# its own slice of 100 ports (by its place among tests/cli/t*.sh) below the kernel's ephemeral range (32768+,
# where outgoing connections take their source ports), and never hands out
# a port twice: two scripts run at once by ctest -j2 cannot pick the same
# port between choosing it and binding it (a tunnel that found its port
# taken once let a test talk to another script's server).
free_port() {
	"${PYTHON:-python3}" - "$test_name" "$TRASH/.ports" "$SIGNET_SRCDIR/tests/cli" <<'PY'
import glob, os, random, socket, sys, zlib
name, used_file, tests = sys.argv[1:4]
try:
    used = set(int(x) for x in open(used_file).read().split())
except OSError:
    used = set()
names = sorted(os.path.basename(f)[:-3] for f in glob.glob(tests + "/t*.sh"))
slot = names.index(name) if name in names else zlib.crc32(name.encode())
base = 10000 + (slot % 220) * 100
port = None
for p in random.sample(range(base, base + 100), 100):
    if p in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        port = p
    except OSError:
        pass
    s.close()
    if port:
        break
if port is None:  # the slice is used up: the kernel's choice
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
open(used_file, "a").write("%d\n" % port)
print(port)
PY
}

wait_port() { # host port [tries]
	local i
	for ((i = 0; i < ${3:-100}; i++)); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# The exit status of a command, without tripping errexit.
exit_code() { local c=0; "$@" || c=$?; echo "$c"; }

# Writes a throwaway passphrase file and exports SIGNET_PASS_FILE.
use_test_passphrase() {
	printf 'correct horse battery staple\n' >"$TRASH/pass.txt"
	chmod 600 "$TRASH/pass.txt"
	export SIGNET_PASS_FILE="$TRASH/pass.txt"
}

# soak_finish WHAT PID: the common end of a soak scenario.  Checks that
# VmRSS grew from $rss_warm to $rss_end (KiB, set by the scenario) by at
# most max(20%, 8 MiB) (each scenario's comment says why that bound), stops
# PID with SIGTERM (bounded: SIGKILL after 60 s), expects exit status 0
# (srv.log holds its log), and fails on any ASan/UBSan report file
# (asan.*, ubsan.* written through log_path in $TRASH).
soak_finish() {
	local what=$1 pid=$2 i
	test_expect_success 'VmRSS after the soak is within max(20%, 8 MiB) of the warm-up' '
		growth=$((rss_end - rss_warm)) &&
		bound=$((rss_warm / 5)) &&
		if [ "$bound" -lt 8192 ]; then bound=8192; fi &&
		echo "VmRSS warm-up ${rss_warm} KiB, end ${rss_end} KiB, growth ${growth} KiB, bound ${bound} KiB" &&
		test "$growth" -le "$bound"
	'
	# Stop at the top level (the server is this shell's child).
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { echo "# still running 60 s after SIGTERM: SIGKILL"; kill -KILL "$pid"; }
	SOAK_RC=0
	wait "$pid" || SOAK_RC=$?
	test_expect_success "SIGTERM: the $what exits 0" '
		tail -3 srv.log; test "$SOAK_RC" = 0
	'
	test_expect_success 'no leak, ASan or UBSan report (ASan builds: LeakSanitizer at exit)' '
		found=0 &&
		for f in asan.* ubsan.*; do
			[ -s "$f" ] || continue
			found=1; head -60 "$f"
		done &&
		test "$found" = 0
	'
}

# soak_durations: sets ASAN (1 when $SIGNET is an ASan build, or
# SOAK_ASAN=1), and the warm-up and soak seconds WARM and MAIN (longer
# under ASan, where everything runs ~3x slower; SOAK_WARM/SOAK_SECONDS
# override them).
soak_durations() {
	if [ "${SOAK_ASAN:-}" = 1 ] ||
		nm -D "$SIGNET" 2>/dev/null | grep -q __asan_init ||
		nm "$SIGNET" 2>/dev/null | grep -q __asan_init ||
		grep -aq __asan_init "$SIGNET" 2>/dev/null; then
		ASAN=1 WARM=${SOAK_WARM:-10} MAIN=${SOAK_SECONDS:-45}
	else
		ASAN=0 WARM=${SOAK_WARM:-5} MAIN=${SOAK_SECONDS:-20}
	fi
}
