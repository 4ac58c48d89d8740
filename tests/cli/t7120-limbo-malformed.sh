#!/bin/bash
# t7120-limbo-malformed.sh - the x509-limbo runner (tests/conformance/
# limbo.c) on testcases whose fields have the wrong JSON type: no
# validation_kind, a non-string key_usage or extended_key_usage entry, an
# unknown validation_kind.  Each is a FAIL line naming the field, the
# well-formed testcase beside them still runs, and the summary keeps its
# format (docs/FINDINGS.md #2: the runner used to follow a NULL and crash).
. "$(dirname "$0")/lib.sh"
[ -n "$PYTHON" ] || test_skip_all "no python3"
LIMBO=${SIGNET_BUILDDIR:-$SIGNET_SRCDIR/build}/tests/conformance/limbo
[ -x "$LIMBO" ] || test_skip_all "no limbo runner at $LIMBO"
SEEDS=$SIGNET_SRCDIR/fuzz/corpus/limbo

# suite.json: the seed testcase pathlen (SUCCESS) as is, and four broken
# copies of it.
"$PYTHON" - "$SEEDS/pathlen" >suite.json <<'PY'
import copy, json, sys
good = json.load(open(sys.argv[1]))
def broken(suffix, **change):
    t = copy.deepcopy(good)
    t["id"] = "broken::" + suffix
    for k, v in change.items():
        if v is None:
            del t[k]
        else:
            t[k] = v
    return t
cases = [good,
         broken("no-validation-kind", validation_kind=None),
         broken("key-usage-number", key_usage=[1]),
         broken("eku-null", extended_key_usage=[None]),
         broken("kind-unknown", validation_kind="PEER")]
print(json.dumps({"version": 1, "testcases": cases}))
PY

test_expect_success 'malformed testcases are FAIL lines naming the field, not a crash' '
	rc=0 && "$LIMBO" suite.json >out.txt 2>&1 || rc=$? &&
	cat out.txt && test "$rc" = 0 &&
	grep -q "^FAIL broken::no-validation-kind (.*): expected SUCCESS, malformed testcase: validation_kind is missing or not a string$" out.txt &&
	grep -q "^FAIL broken::key-usage-number (.*): .*malformed testcase: key_usage\[0\] is not a string$" out.txt &&
	grep -q "^FAIL broken::eku-null (.*): .*malformed testcase: extended_key_usage\[0\] is not a string$" out.txt &&
	grep -q "^FAIL broken::kind-unknown (.*): .*validation_kind \"PEER\" is neither CLIENT nor SERVER$" out.txt
'
test_expect_success 'the well-formed testcase still runs and the summary keeps its format' '
	grep -q "^pass pathlen::ee-with-intermediate-pathlen-0 (" out.txt &&
	test "$(tail -1 out.txt)" = "1 passed, 4 failed, 0 skipped"
'
test_expect_success 'with --floor, the malformed testcases count against the pass count' '
	echo 2 >floor.txt && rc=0 &&
	"$LIMBO" suite.json --floor floor.txt --quiet >out2.txt 2>&1 || rc=$? &&
	test "$rc" = 1 && grep -q "1 passed, below the recorded floor of 2" out2.txt
'
test_done
