#!/usr/bin/env bash
# test.sh - the whole test suite, as CI runs it:
#   1. installs missing dependencies (Debian packages),
#   2. builds with warnings as errors and runs every test (ctest: unit,
#      CLI scenarios, x509-limbo conformance),
#   3. builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs
#      every test again,
#   4. builds with ThreadSanitizer and runs every test again (the batch
#      signing threads, the WAL fold, the CRL encoder, the servers' workers),
#   5. runs each libFuzzer target for a short bounded time (SIGNET_FUZZ_SECONDS,
#      default 45) under ASan+UBSan.
# Exits non-zero when anything fails.  SIGNET_TEST_QUICK=1 skips 3 to 5.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

./scripts/deps.sh

echo "== build (warnings are errors)"
./scripts/build.sh build
echo "== tests"
(cd build && ctest -j2 --output-on-failure --timeout 900)

if [ "${SIGNET_TEST_QUICK:-0}" != 1 ]; then
	echo "== build with ASan+UBSan"
	./scripts/build.sh build-asan -DSIGNET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	echo "== tests under ASan+UBSan"
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest -j2 --output-on-failure --timeout 1800)
	echo "== build with ThreadSanitizer"
	./scripts/build.sh build-tsan -DSIGNET_SANITIZE_THREAD=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	echo "== tests under ThreadSanitizer"
	(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1 \
		ctest -j2 --output-on-failure --timeout 1800)
	if [ -x scripts/fuzz.sh ]; then
		echo "== fuzzing (bounded)"
		"$root/scripts/fuzz.sh" "${SIGNET_FUZZ_SECONDS:-45}"
	fi
fi
echo "== all tests passed"
