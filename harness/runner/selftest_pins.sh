#!/usr/bin/env bash
# selftest_pins.sh: pinned characteristics in expectations files ("<test> CHAR <key> <value>").
#
# usage: selftest_pins.sh LOOPCONF BACKEND
# A matching pin keeps the cell PASS (exit 0); a changed or missing value is an unexpected FAIL
# naming the pinned value with file:line and the new one (exit 1); malformed pins are one error
# line and exit 2. Prints one line per failed check; exits 1 if any failed.
set -u
LC=$1
B=$2
unset LOOPCONF_TIME_MULTIPLIER
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-pins.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
  echo "selftest_pins.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}
run() { # run EXPECT-TEXT -> $out, $err, $rc
  printf '%b' "$1" > "$T/pins.expect"
  out=$("$LC" run -q --backend "$B" --expect "$B=$T/pins.expect" --test selftest.characteristic \
        2>"$T/err")
  rc=$?
  err=$(cat "$T/err")
}

# The test records selftest-key = "value<TAB>with tab 7".
run 'selftest.characteristic CHAR selftest-key value\twith tab 7\n'
[ $rc -eq 0 ] || fail "an exact pin: exit $rc, want 0: $out"
run '# comment\nselftest.characteristic CHAR selftest-key   value\twith tab 7  \n'
[ $rc -eq 0 ] || fail "a pin with surrounding blanks: exit $rc, want 0"

run 'selftest.characteristic CHAR selftest-key something else\n'
[ $rc -eq 1 ] || fail "a changed value: exit $rc, want 1"
echo "$out" | grep -q "selftest.characteristic FAIL: characteristic selftest-key changed: pinned 'something else' ($T/pins.expect:1), now 'value" ||
  fail "a changed value: the reason does not name the pinned and the new value: $out"

run 'selftest.characteristic CHAR other-key v\n'
[ $rc -eq 1 ] || fail "a pinned key never recorded: exit $rc, want 1"
echo "$out" | grep -q "characteristic other-key pinned 'v' ($T/pins.expect:1) was not recorded" ||
  fail "a pinned key never recorded: reason: $out"

run 'selftest.characteristic CHAR value\n'
[ $rc -eq 2 ] && echo "$err" | grep -q 'pins.expect:1: expected "<test-name> CHAR <key> <value>"' ||
  fail "a pin without a value: exit $rc, stderr: $err"
run 'selftest.no-such-test CHAR k v\n'
[ $rc -eq 2 ] && echo "$err" | grep -q "no test named 'selftest.no-such-test'" ||
  fail "a pin of an unknown test: exit $rc, stderr: $err"
run 'selftest.characteristic CHAR k v\nselftest.characteristic CHAR k w\n'
[ $rc -eq 2 ] && echo "$err" | grep -q "pins.expect:2: characteristic 'k' of test 'selftest.characteristic' is pinned twice" ||
  fail "a key pinned twice: exit $rc, stderr: $err"
[ $(echo "$err" | wc -l) -eq 1 ] || fail "bad input gives more than one error line: $err"

if [ $failures -ne 0 ]; then
  echo "selftest_pins.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "selftest_pins.sh: all checks passed"
