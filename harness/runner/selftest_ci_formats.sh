#!/usr/bin/env bash
# selftest_ci_formats.sh: TAP and JUnit reports as CI systems read them.
#
# usage: selftest_ci_formats.sh LOOPCONF BACKEND XSD
# One run of the selftest.* tests gives PASS, FAIL, XFAIL, XPASS, SKIP, CRASH and TIMEOUT
# cells (an expectations file whose reasons hold '#' and '\'). Then:
#   - prove(1) reads the TAP file and fails exactly the unexpected cells; TAP::Parser sees
#     each point with its directive, and '#' in descriptions and reasons escaped as "\#";
#   - the JUnit file validates with xmllint against XSD (junit-10 layout), XFAIL and SKIP are
#     <skipped type=...>, CRASH and TIMEOUT <error>, FAIL and XPASS <failure>, counts add up,
#     testsuite timestamp and hostname are present;
#   - a run whose verdicts are all expected (PASS, XFAIL, SKIP) passes under prove.
set -u
LC=$1
B=$2
XSD=$3
unset LOOPCONF_TIME_MULTIPLIER
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-ci.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
  echo "selftest_ci_formats.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}
for tool in prove perl xmllint python3; do
  command -v $tool >/dev/null || { echo "selftest_ci_formats.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done

cat >"$T/ci.expect" <<'EOF2'
selftest.fail.message FAIL deliberate # hash and \ backslash
selftest.characteristic FAIL listed so that its pass is an XPASS
EOF2
TESTS=selftest.pass,selftest.fail.assert,selftest.fail.message,selftest.characteristic
TESTS=$TESTS,selftest.skip,selftest.crash,selftest.hang
"$LC" run -q --backend "$B" --expect "$B=$T/ci.expect" --test "$TESTS" \
  --tap "$T/ci.tap" --junit "$T/ci.xml" >"$T/ci.out" 2>"$T/ci.err"
rc=$?
[ $rc -eq 1 ] || fail "the mixed run: exit $rc, want 1: $(cat "$T/ci.err")"
for v in PASS FAIL XFAIL XPASS SKIP CRASH TIMEOUT; do
  grep -qE "^selftest\.[a-z.-]+ +$v( |$)" "$T/ci.out" || fail "no $v cell in the run"
done

# ---- TAP ----
prove -e cat "$T/ci.tap" >"$T/prove.out" 2>&1 && fail "prove passed a run with unexpected verdicts"
# The points in matrix order: pass, fail.assert, fail.message, characteristic, skip, crash, hang
# are registered in name order: characteristic crash fail.assert fail.message hang pass skip.
grep -q "Failed tests\?:  1-3, 5$" "$T/prove.out" ||
  fail "prove does not fail exactly XPASS, CRASH, FAIL, TIMEOUT (points 1-3, 5): $(cat "$T/prove.out")"
perl -MTAP::Parser -e '
  local $/; open my $f, "<", $ARGV[0] or die; my $t = <$f>;
  my $p = TAP::Parser->new({tap => $t});
  while (my $r = $p->next) {
    next unless $r->is_test;
    printf "%d|%s|%s|%s|%s\n", $r->number, $r->is_ok ? 1 : 0, $r->directive, $r->description,
           $r->explanation;
  }
  printf "parse_errors|%d|%s\n", scalar($p->parse_errors), join(";", $p->parse_errors);
  printf "version|%s\n", $p->version;' "$T/ci.tap" >"$T/tap.parsed" ||
  fail "TAP::Parser could not read the TAP file"
check_point() { # NUMBER OK DIRECTIVE DESCRIPTION-REGEX
  grep -qE "^$1\|$2\|$3\|$4\|" "$T/tap.parsed" ||
    fail "TAP point $1: want ok=$2 directive='$3' description~'$4': $(grep "^$1|" "$T/tap.parsed")"
}
check_point 1 0 "" "- $B/selftest.characteristic"
check_point 2 0 "" "- $B/selftest.crash"
check_point 3 0 "" "- $B/selftest.fail.assert"
check_point 4 1 TODO "- $B/selftest.fail.message"
check_point 5 0 "" "- $B/selftest.hang"
check_point 6 1 "" "- $B/selftest.pass"
check_point 7 1 SKIP "- $B/selftest.skip"
grep -qF '4|1|TODO|- '"$B"'/selftest.fail.message|xfail deliberate \# hash and \\ backslash' "$T/tap.parsed" ||
  fail "TAP: '#' and '\\' in a reason are not escaped as \\# and \\\\: $(grep '^4|' "$T/tap.parsed")"
grep -q "^parse_errors|0|" "$T/tap.parsed" || fail "TAP parse errors: $(grep parse_errors "$T/tap.parsed")"
grep -q "^version|13$" "$T/tap.parsed" || fail "not TAP version 13"

# ---- JUnit ----
xmllint --noout --schema "$XSD" "$T/ci.xml" 2>"$T/xmllint.err" ||
  fail "the JUnit file does not validate against $XSD: $(cat "$T/xmllint.err")"
python3 - "$T/ci.xml" "$B" <<'EOF2' || fail "JUnit elements are not as expected"
import re, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
b = sys.argv[2]
assert root.tag == "testsuites" and "skipped" not in root.attrib, root.attrib
assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "2", "2"), root.attrib
(suite,) = root.findall("testsuite")
assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors"),
        suite.get("skipped")) == (b, "7", "2", "2", "2"), suite.attrib
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", "")), suite.attrib
assert suite.get("hostname"), suite.attrib
cases = {c.get("name"): c for c in suite.findall("testcase")}
def kind(name):
    kids = [k for k in cases[name] if k.tag != "system-out"]
    return (kids[0].tag, kids[0].get("type")) if kids else None
want = {"selftest.pass": None, "selftest.fail.assert": ("failure", "FAIL"),
        "selftest.characteristic": ("failure", "XPASS"), "selftest.fail.message": ("skipped", "XFAIL"),
        "selftest.skip": ("skipped", "SKIP"), "selftest.crash": ("error", "CRASH"),
        "selftest.hang": ("error", "TIMEOUT")}
for name, k in want.items():
    assert kind(name) == k, (name, kind(name), k)
msg = cases["selftest.fail.message"].find("skipped").get("message")
assert msg == "expected failure: deliberate # hash and \\ backslash", msg
EOF2

# ---- a run with only expected verdicts passes under prove ----
"$LC" run -q --backend "$B" --expect "$B=$T/ci.expect" \
  --test selftest.pass,selftest.skip,selftest.fail.message --tap "$T/ok.tap" --junit "$T/ok.xml" \
  >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] || fail "the expected-only run: exit $rc, want 0"
prove -e cat "$T/ok.tap" >"$T/prove-ok.out" 2>&1 || fail "prove fails a run of PASS, XFAIL, SKIP: $(cat "$T/prove-ok.out")"
xmllint --noout --schema "$XSD" "$T/ok.xml" 2>/dev/null || fail "the expected-only JUnit file does not validate"

if [ $failures -ne 0 ]; then
  echo "selftest_ci_formats.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "selftest_ci_formats.sh: all checks passed"
