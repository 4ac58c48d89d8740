#!/bin/sh
# valgrind-wrapper.sh - stands in for the signet binary ($SIGNET) so that a
# scenario runs every signet invocation under valgrind memcheck.  Set
# SIGNET_REAL to the real binary and VALGRIND_LOG_DIR to a directory for
# the per-process reports.  A memory error or a definite leak makes the
# command exit 99, which no signet exit code uses, so the scenario fails
# at the step that leaked.
: "${SIGNET_REAL:?SIGNET_REAL must name the real signet binary}"
: "${VALGRIND_LOG_DIR:=${TMPDIR:-/tmp}}"
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--track-origins=yes --child-silent-after-fork=yes \
	--log-file="$VALGRIND_LOG_DIR/vg.%p.log" "$SIGNET_REAL" "$@"
