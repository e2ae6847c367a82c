#!/usr/bin/env bash
# selftest_version.sh: expectations conditioned on the version of the library actually run
# ("<test> <VERDICT> version<1.48 <reason>", harness/runner/expect_version.c).
#
# usage: selftest_version.sh LOOPCONF BACKEND
# BACKEND's version() must contain the dotted number the checks compare with (read from
# `loopconf list backends`). selftest.fail.assert always FAILs: a line that holds makes it
# XFAIL (exit 0), a line that does not is as if absent (unexpected FAIL, exit 1); malformed
# conditions and ambiguous lines are one error line and exit 2.
set -u
LC=$1
B=$2
unset LOOPCONF_TIME_MULTIPLIER
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-version.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
  echo "selftest_version.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}
run() { # run EXPECT-TEXT -> $out, $err, $rc
  printf '%b' "$1" > "$T/v.expect"
  out=$("$LC" run -q --backend "$B" --expect "$B=$T/v.expect" --test selftest.fail.assert \
        2>"$T/err")
  rc=$?
  err=$(cat "$T/err")
}
# The backend's version number, e.g. 0.1.0 for "loopconf-reference 0.1.0 (epoll, ...)".
ver=$("$LC" list backends | awk -v b="$B" '$1 == b { for (i = 2; i <= NF; i++)
        if ($i ~ /^[0-9]+(\.[0-9]+)*/) { match($i, /^[0-9]+(\.[0-9]+)*/); print substr($i, 1, RLENGTH); exit } }')
[ -n "$ver" ] || { echo "selftest_version.sh: backend $B reports no version number" >&2; exit 2; }
major=${ver%%.*}
next=$((major + 1))
R='deliberate: answer is 41'

run "selftest.fail.assert FAIL version<$next $R\n"
[ $rc -eq 0 ] && echo "$out" | grep -q "XFAIL" || fail "version<$next on $ver: exit $rc, want XFAIL and 0: $out"
run "selftest.fail.assert FAIL version>=$next $R\n"
[ $rc -eq 1 ] || fail "version>=$next on $ver: exit $rc, want 1 (the line does not hold)"
run "selftest.fail.assert FAIL version=$ver $R\n"
[ $rc -eq 0 ] || fail "version=$ver on $ver: exit $rc, want 0"
run "selftest.fail.assert FAIL version!=$ver $R\n"
[ $rc -eq 1 ] || fail "version!=$ver on $ver: exit $rc, want 1"
run "selftest.fail.assert FAIL version>$ver $R\n"
[ $rc -eq 1 ] || fail "version>$ver on $ver: exit $rc, want 1"
run "selftest.fail.assert FAIL version>=$ver,<$next $R\n"
[ $rc -eq 0 ] || fail "a range that holds: exit $rc, want 0"
run "selftest.fail.assert FAIL version>=$ver,>$ver $R\n"
[ $rc -eq 1 ] || fail "a range that does not hold: exit $rc, want 1"
run "selftest.fail.assert FAIL version<$ver.0.0.0 $R\n"
[ $rc -eq 1 ] || fail "missing parts count as 0 ($ver < $ver.0.0.0 is false): exit $rc, want 1"

# Two lines told apart by their conditions: the one that holds is used, with its reason.
run "selftest.fail.assert TIMEOUT version<$ver old reason\nselftest.fail.assert FAIL version>=$ver $R\n"
[ $rc -eq 0 ] && echo "$out" | grep -q "XFAIL: $R" ||
  fail "two conditioned lines: exit $rc, want the second's XFAIL: $out"
run "selftest.fail.assert FAIL version<$next a\nselftest.fail.assert FAIL version>=$ver b\n"
[ $rc -eq 2 ] && echo "$err" | grep -q "test 'selftest.fail.assert' has more than one line that holds" ||
  fail "two lines that both hold: exit $rc, stderr: $err"
run "selftest.fail.assert FAIL $R\nselftest.fail.assert FAIL version<$next $R\n"
[ $rc -eq 2 ] && echo "$err" | grep -q "v.expect:2: test 'selftest.fail.assert' is listed twice" ||
  fail "an unconditioned line listed again: exit $rc, stderr: $err"
for bad in 'version<' 'version<1.x' 'version<<1' 'version<1,' 'version~1' 'version<1;2'; do
  run "selftest.fail.assert FAIL $bad $R\n"
  case $bad in
    'version~1') # not a condition: part of the reason; the line holds
      [ $rc -eq 0 ] || fail "'$bad' is a reason word: exit $rc, want 0" ;;
    *) [ $rc -eq 2 ] && echo "$err" | grep -q "v.expect:1: condition '$bad' is not" &&
         [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "malformed '$bad': exit $rc, stderr: $err" ;;
  esac
done
run "selftest.fail.assert FAIL version<$next\n"
[ $rc -eq 2 ] && echo "$err" | grep -q 'expected "<test-name> \[may\] <FAIL|TIMEOUT|CRASH> \[version' ||
  fail "a condition and no reason: exit $rc, stderr: $err"

if [ $failures -ne 0 ]; then
  echo "selftest_version.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "selftest_version.sh: all checks passed (version $ver)"
