#!/usr/bin/env bash
# fuzz.sh [SECONDS] - builds signet's libFuzzer targets (clang, ASan+UBSan)
# and runs each one for SECONDS (default 60), one after another, starting
# from the seed corpus in fuzz/corpus/<target>/ (which includes the
# regression inputs of every past finding).  Fails when any target finds a
# crash, leak, sanitizer report or timeout; prints executions per target.
#
#   FUZZ_TARGETS="certs csr"  run only these targets
#   FUZZ_BUILD=DIR            build directory (default: build-fuzz)
#   FUZZ_NICE=19              nice level of the fuzzing processes
#   FUZZ_ARGS="..."           extra libFuzzer flags
#
# -Werror is off here: clang warns about things gcc does not, and the gcc
# build is the -Werror gate; a warning must not hide a fuzz finding.
#
# New inputs the fuzzer finds go to $FUZZ_BUILD/fuzz-work/<target>/, not
# into the repository; crashing inputs to $FUZZ_BUILD/fuzz-artifacts/.
set -euo pipefail

secs=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$src/build-fuzz}
nicelvl=${FUZZ_NICE:-19}

cc=${CC:-}
if [ -z "$cc" ] || ! "$cc" --version 2>/dev/null | grep -q clang; then
	for c in clang clang-14; do
		command -v "$c" >/dev/null && { cc=$c; break; }
	done
fi
if [ -z "$cc" ]; then
	echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

echo "== building fuzz targets with $cc in $build"
CC=$cc cmake -S "$src" -B "$build" -DSIGNET_FUZZ=ON -DSIGNET_SANITIZE=ON -DSIGNET_WERROR=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1 ||
	{ cat "$build.cmake.log" >&2; exit 1; }
nice -n "$nicelvl" cmake --build "$build" --target fuzz -j "$(nproc)" >"$build.build.log" 2>&1 ||
	{ tail -40 "$build.build.log" >&2; exit 1; }

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
	for t in $FUZZ_TARGETS; do targets+=("$t"); done
else
	for f in "$src"/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c)
		t=${t#fuzz_}
		[ -x "$build/fuzz/fuzz_$t" ] && targets+=("$t")
	done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
summary=$build/fuzz-summary.txt
: >"$summary"
failed=0
printf '%-10s %8s %12s %10s %8s  %s\n' target seconds executions exec/s corpus result | tee -a "$summary"
for t in "${targets[@]}"; do
	bin=$build/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "fuzz.sh: no target fuzz_$t" >&2
		failed=1
		continue
	fi
	work=$build/fuzz-work/$t
	mkdir -p "$work"
	log=$build/fuzz-logs/$t.log
	rm -f "$build/fuzz-artifacts/$t-"*
	rc=0
	# -rss_limit_mb: scrypt keys legitimately use ~32 MiB per try.
	nice -n "$nicelvl" "$bin" "$work" "$src/fuzz/corpus/$t" \
		-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
		${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
	if [ "$rc" -eq 0 ]; then res=ok; else res="FAIL (exit $rc, see $log)"; failed=1; fi
	printf '%-10s %8s %12s %10s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
		"${cov:-?}" "$res" | tee -a "$summary"
	if [ "$rc" -ne 0 ]; then
		# CI keeps only this output, not the log or the artifact: show
		# the report and the failing input (up to 4 KiB) here.
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|left the OpenSSL|exited|failed without' \
			"$log" | head -20 || true
		for a in "$build/fuzz-artifacts/$t-"*; do
			[ -f "$a" ] || continue
			echo "-- $(basename "$a") ($(wc -c <"$a") bytes):"
			od -A x -t x1z -v "$a" | head -256
		done
	fi
done
exit $failed
