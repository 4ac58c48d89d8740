#!/usr/bin/env bash
# valgrind-cli.sh [SCENARIO...] - runs the CLI scenarios (default:
# tests/cli/t0*.sh) with every signet invocation under valgrind memcheck
# (tests/valgrind-wrapper.sh as $SIGNET), and fails on any memory error or
# definite leak, or on any scenario that fails under valgrind.  The network
# commands (tunnel, ocsp serve) exec signet-net, which valgrind does not
# follow: it runs natively (ASan covers it in the test suite).
#
#   VALGRIND_BUILD=DIR   build directory of a plain (non-ASan) build
#                        (default: build-valgrind; configured if missing)
#   SIGNET_REAL=BIN      use this binary instead of building one
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind-cli.sh: valgrind not installed" >&2; exit 1; }

if [ -z "${SIGNET_REAL:-}" ]; then
	build=${VALGRIND_BUILD:-$src/build-valgrind}
	cmake -S "$src" -B "$build" -DSIGNET_SANITIZE=OFF -DSIGNET_FUZZ=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1 &&
		cmake --build "$build" --target signet signet-net -j "$(nproc)" >"$build.build.log" 2>&1 ||
		{ tail -30 "$build.cmake.log" "$build.build.log" >&2; exit 1; }
	SIGNET_REAL=$build/signet
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/signet-valgrind.XXXXXX")
export SIGNET_REAL VALGRIND_LOG_DIR=$logs SIGNET=$src/tests/valgrind-wrapper.sh
export SIGNET_SRCDIR=$src

if [ $# -gt 0 ]; then scenarios=("$@"); else scenarios=("$src"/tests/cli/t0*.sh); fi
failed=0 passed=0 skipped=0 bad=()
for t in "${scenarios[@]}"; do
	name=$(basename "$t" .sh)
	rc=0
	bash "$t" >"$logs/$name.out" 2>&1 || rc=$?
	case $rc in
	0) passed=$((passed + 1)); echo "ok   $name" ;;
	77) skipped=$((skipped + 1)); echo "skip $name" ;;
	*) failed=$((failed + 1)); bad+=("$name"); echo "FAIL $name (exit $rc)"
	   grep -E '^not ok|expected exit' "$logs/$name.out" | head -5 | sed 's/^/     /' ;;
	esac
done

runs=$(ls "$logs"/vg.*.log 2>/dev/null | wc -l)
# With -q, a clean process leaves an empty log; anything else is a report.
reports=$(find "$logs" -name 'vg.*.log' -size +0 | wc -l)
definite=$(cat "$logs"/vg.*.log 2>/dev/null | grep -c 'definitely lost in' || true)
errors=$(cat "$logs"/vg.*.log 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninitialised|Syscall param|Mismatched|Source and destination)' || true)
echo "valgrind: $runs signet processes under memcheck in ${#scenarios[@]} scenarios" \
	"($passed passed, $failed failed, $skipped skipped)"
echo "valgrind: definite leak records: $definite; memory errors: $errors; non-empty reports: $reports"
if [ "$reports" -gt 0 ]; then
	for f in $(find "$logs" -name 'vg.*.log' -size +0 | head -5); do
		echo "--- $f"; head -40 "$f"
	done
fi
echo "valgrind: logs in $logs"
[ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
