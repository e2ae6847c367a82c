#!/usr/bin/env bash
# selftest.sh: prove the runner's verdict machinery, reports, exit codes and input errors.
#
# usage: selftest.sh LOOPCONF BACKEND FIXTURE_DIR
#   LOOPCONF     the loopconf executable
#   BACKEND      a built-in backend name to host the selftest.* tests (any working one)
#   FIXTURE_DIR  directory with the lcfix_*.so broken modules
# Prints one line per failed check and exits 1 if any failed, 0 otherwise.
set -u
LC=$1
B=$2
FIX=$3
BDIR=${LOOPCONF_BACKEND_DIR:-$(dirname "$LC")/backends}
unset LOOPCONF_TIME_MULTIPLIER LOOPCONF_SELFTEST_FLAKY_FILE
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-selftest.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
checks=0

fail() {
  echo "selftest.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}
check() { # check DESCRIPTION CONDITION-COMMAND...
  local desc=$1
  shift
  checks=$((checks + 1))
  "$@" || fail "$desc"
}

# run_lc NAME ARGS...: run loopconf, keep stdout/stderr in $T/NAME.out/.err, status in $rc.
run_lc() {
  local name=$1
  shift
  "$LC" "$@" >"$T/$name.out" 2>"$T/$name.err"
  rc=$?
}

# verdict NAME TEST: the verdict in the (single-backend) matrix row of TEST.
verdict() { awk -v t="$2" '$1 == t { print $2; exit }' "$T/$1.out"; }
expect_verdict() { # expect_verdict NAME TEST VERDICT
  local got
  got=$(verdict "$1" "$2")
  checks=$((checks + 1))
  [ "$got" = "$3" ] || fail "$1: $2 is '$got', wanted $3"
}
expect_rc() { # expect_rc NAME WANTED
  checks=$((checks + 1))
  [ "$rc" -eq "$2" ] || fail "$1: exit status $rc, wanted $2 (stderr: $(head -c 300 "$T/$1.err"))"
}
expect_last_line() { # expect_last_line NAME LINE
  checks=$((checks + 1))
  [ "$(tail -n 1 "$T/$1.out")" = "$2" ] || fail "$1: last line '$(tail -n 1 "$T/$1.out")', wanted '$2'"
}
expect_grep() { # expect_grep NAME FILE-SUFFIX REGEX
  checks=$((checks + 1))
  grep -Eq -- "$3" "$T/$1.$2" || fail "$1: no line matching '$3' in $2"
}

# The verdict tests of selftest_verdicts.c (other selftest.* tests have their own scripts).
VT=selftest.characteristic,selftest.crash,selftest.early-exit,selftest.fail.assert
VT=$VT,selftest.fail.message,selftest.flaky,selftest.flood,selftest.hang,selftest.pass,selftest.skip

# ---- 1. Every verdict, with an expectations file ----------------------------------------
cat >"$T/all.expect" <<'EOF'
# A comment, then a blank line.

selftest.fail.message FAIL   deliberate lc_fail
selftest.crash        CRASH  deliberate raise(SIGSEGV)
selftest.hang         TIMEOUT deliberate pause() forever
selftest.pass         FAIL   listed so that its pass is an XPASS
selftest.early-exit   CRASH  listed as a crash, but it fails another way
EOF
run_lc all run --backend "$B" --test "$VT" --expect "$B=$T/all.expect" \
  --tap "$T/all.tap" --junit "$T/all.xml" -q
expect_rc all 1
expect_verdict all selftest.characteristic PASS
expect_verdict all selftest.crash XFAIL
expect_verdict all selftest.early-exit FAIL
expect_verdict all selftest.fail.assert FAIL
expect_verdict all selftest.fail.message XFAIL
expect_verdict all selftest.flaky SKIP
expect_verdict all selftest.flood FAIL
expect_verdict all selftest.hang XFAIL
expect_verdict all selftest.pass XPASS
expect_verdict all selftest.skip SKIP
expect_last_line all "conformance: 4 passed, 4 failed, 2 skipped"
expect_grep all out "selftest.crash XFAIL: deliberate raise\(SIGSEGV\)"
expect_grep all out "selftest.pass XPASS: expected FAIL .* but the test passed"
expect_grep all out "selftest.early-exit FAIL: expected CRASH .* but got FAIL"
expect_grep all out "selftest-key"
check "all: progress or noise on stderr with -q" test ! -s "$T/all.err"
check "all: a temporary report file was left behind" \
  test -z "$(find "$T" -name '*.tmp.*' -print -quit)"

# TAP: version, plan, numbered points, directives, YAML blocks that parse.
checks=$((checks + 1))
python3 - "$T/all.tap" "$B" <<'EOF' || fail "all: TAP file is not as expected"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
b = sys.argv[2]
assert lines[0] == "TAP version 13", lines[0]
assert lines[1] == "1..10", lines[1]
points, blocks, i = [], [], 2
while i < len(lines) and lines[i]:
    m = re.match(r"^(ok|not ok) (\d+) - ([^ #]+)(?: # (.*))?$", lines[i])
    assert m, "bad test line: %r" % lines[i]
    points.append(m.groups())
    i += 1
    if i < len(lines) and lines[i] == "  ---":
        j = lines.index("  ...", i)
        blocks.append("\n".join(l[2:] for l in lines[i + 1:j]))
        i = j + 1
assert [int(p[1]) for p in points] == list(range(1, 11)), points
assert all(p[2].startswith(b + "/selftest.") for p in points)
d = {p[2].split("/", 1)[1]: p for p in points}
assert d["selftest.pass"][0] == "not ok"
assert d["selftest.characteristic"][0] == "ok" and d["selftest.characteristic"][3] is None
assert d["selftest.skip"][0] == "ok" and d["selftest.skip"][3] == "SKIP deliberate skip"
assert d["selftest.crash"][0] == "not ok" and d["selftest.crash"][3].startswith("TODO xfail ")
assert d["selftest.flood"][0] == "not ok"
assert len(blocks) == 4, len(blocks)  # FAIL x3 and XPASS
try:
    import yaml
except ImportError:
    yaml = None
if yaml:
    for blk in blocks:
        doc = yaml.safe_load(blk)
        assert doc["verdict"] in ("FAIL", "XPASS"), doc
        assert isinstance(doc["log"], str)
EOF

# JUnit: well formed, counts, classes, failure/skipped elements, escaped log.
checks=$((checks + 1))
python3 - "$T/all.xml" "$B" <<'EOF' || fail "all: JUnit file is not as expected"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
b = sys.argv[2]
assert root.tag == "testsuites", root.tag
assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("10", "4", "0"), root.attrib
suites = root.findall("testsuite")
assert len(suites) == 1 and suites[0].get("name") == b
assert suites[0].get("skipped") == "5", suites[0].attrib  # SKIP x2 and XFAIL x3
cases = {c.get("name"): c for c in suites[0].findall("testcase")}
assert len(cases) == 10 and all(c.get("classname") == b for c in cases.values())
fails = {n for n, c in cases.items() if c.find("failure") is not None}
assert fails == {"selftest.pass", "selftest.early-exit", "selftest.fail.assert",
                 "selftest.flood"}, fails
assert cases["selftest.pass"].find("failure").get("type") == "XPASS"
skips = {n: c.find("skipped").get("type") for n, c in cases.items() if c.find("skipped") is not None}
assert skips == {"selftest.skip": "SKIP", "selftest.flaky": "SKIP", "selftest.hang": "XFAIL",
                 "selftest.crash": "XFAIL", "selftest.fail.message": "XFAIL"}, skips
flood = cases["selftest.flood"].find("system-out").text
assert '<&> "quoted"' in flood and "flood line 3999" in flood and "log truncated" in flood
assert len(flood) < 70000, len(flood)
EOF

# ---- 2. Raw verdicts, no expectations: FAIL, CRASH, TIMEOUT, SKIP are detected ---------
: >"$T/empty.expect"
run_lc raw run --backend "$B" --test "$VT" --expect "$B=$T/empty.expect" -q
expect_rc raw 1
expect_verdict raw selftest.crash CRASH
expect_verdict raw selftest.hang TIMEOUT
expect_verdict raw selftest.fail.message FAIL
expect_verdict raw selftest.fail.assert FAIL
expect_verdict raw selftest.early-exit FAIL
expect_verdict raw selftest.skip SKIP
expect_verdict raw selftest.pass PASS
expect_grep raw out "selftest.crash CRASH: killed by signal SIGSEGV"
expect_grep raw out "selftest.hang TIMEOUT: .*time limit of 300 ms"
expect_grep raw out "selftest.fail.message FAIL: selftest_verdicts.c:[0-9]+: deliberate failure 42"
expect_grep raw out "selftest.fail.assert FAIL: .*(41|0x29).*(42|0x2a)"
expect_grep raw out "selftest.early-exit FAIL: the child exited with status 0 before"
expect_grep raw out "selftest.skip SKIP: deliberate skip"
expect_last_line raw "conformance: 2 passed, 6 failed, 2 skipped"

# Parallel cells give the same verdicts.
run_lc par run --backend "$B" --test "$VT" --expect "$B=$T/empty.expect" --jobs 4 -q
expect_rc par 1
check "par: --jobs 4 changed the matrix" \
  cmp -s <(grep '^selftest\.' "$T/raw.out") <(grep '^selftest\.' "$T/par.out")

# ---- 3. All expected: exit 0, XFAIL reason and characteristic shown ---------------------
printf 'selftest.crash CRASH deliberate raise(SIGSEGV)\n' >"$T/ok.expect"
run_lc ok run --backend "$B" --test selftest.pass,selftest.skip,selftest.characteristic,selftest.crash \
  --expect "$B=$T/ok.expect" -q
expect_rc ok 0
expect_verdict ok selftest.crash XFAIL
expect_grep ok out "^ +$B +value with tab 7$"
expect_last_line ok "conformance: 3 passed, 0 failed, 1 skipped"

# ---- 4. --repeat: a verdict that changes is FLAKY, a stable one is not ------------------
LOOPCONF_SELFTEST_FLAKY_FILE="$T/flaky.count" run_lc flaky run --backend "$B" \
  --test selftest.flaky --repeat 2 -q
expect_rc flaky 1
expect_verdict flaky selftest.flaky FLAKY
expect_grep flaky out "selftest.flaky FLAKY: verdict changed between 2 repetitions: PASS x1, FAIL x1"
expect_last_line flaky "conformance: 0 passed, 1 failed, 0 skipped"
run_lc stable run --backend "$B" --test selftest.pass --repeat 3 -q
expect_rc stable 0
expect_verdict stable selftest.pass PASS

# A repetition that SKIPped gave no evidence: the others decide, and the reason counts it.
LOOPCONF_SELFTEST_FLAKY_FILE="$T/skips.count" run_lc skips run --backend "$B" \
  --test selftest.sometimes-skips --repeat 2 -q
expect_rc skips 0
expect_verdict skips selftest.sometimes-skips PASS
expect_grep skips out "selftest.sometimes-skips PASS: SKIP \(no evidence\) in 1 of 2 runs"

# ---- 4b. "may": expected whether it shows or not, and counted over the repetitions -------
cat >"$T/may.expect" <<'EOF'
selftest.flaky may FAIL fails on even runs only (selftest_verdicts.c)
selftest.pass  may FAIL never shows here
selftest.crash may FAIL listed as a failure, but it crashes
EOF
LOOPCONF_SELFTEST_FLAKY_FILE="$T/may.count" run_lc may run --backend "$B" \
  --test selftest.flaky --test selftest.pass --test selftest.crash --repeat 4 \
  --expect "$B=$T/may.expect" -q
expect_rc may 1
expect_verdict may selftest.flaky XFAIL
expect_grep may out "selftest.flaky XFAIL: may FAIL: showed in 2 of 4 run\(s\): fails on even runs"
expect_verdict may selftest.pass PASS
expect_grep may out "selftest.pass PASS: may FAIL: showed in 0 of 4 run\(s\)"
expect_verdict may selftest.crash CRASH
# The same flaky cell without "may" is FLAKY: the reason "may" exists.
grep flaky "$T/may.expect" | sed 's/ may FAIL / FAIL /' >"$T/nomay.expect"
LOOPCONF_SELFTEST_FLAKY_FILE="$T/nomay.count" run_lc nomay run --backend "$B" \
  --test selftest.flaky --repeat 2 --expect "$B=$T/nomay.expect" -q
expect_rc nomay 1
expect_verdict nomay selftest.flaky FLAKY

# ---- 5. The time multiplier scales the limit (flag and environment) ---------------------
run_lc mult run --backend "$B" --test selftest.hang --time-multiplier 2 -q
expect_rc mult 1
expect_grep mult out "time limit of 600 ms"
LOOPCONF_TIME_MULTIPLIER=3 run_lc multenv run --backend "$B" --test selftest.hang -q
expect_grep multenv out "time limit of 900 ms"

# ---- 6. Out-of-tree adapter: name from the module, <path>.expect found next to it --------
cp "$BDIR/lcb_$B.so" "$T/myadapter.so"
printf 'selftest.crash CRASH found next to the module\n' >"$T/myadapter.expect"
run_lc adapter run --backend "$T/myadapter.so" --test selftest.crash -q
expect_rc adapter 0
expect_verdict adapter selftest.crash XFAIL
expect_grep adapter out "found next to the module"

# ---- 6b. ^C kills the running cells and writes no report ---------------------------------
"$LC" run --backend "$T/myadapter.so" --test selftest.hang --time-multiplier 100 \
  --tap "$T/int.tap" >"$T/int.out" 2>"$T/int.err" &
pid=$!
for _ in $(seq 50); do # wait (up to 5 s) until the cell is running
  pgrep -f "__cell $T/myadapter.so" >/dev/null && break
  sleep 0.1
done
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc int 130
sleep 0.2
check "int: a cell outlived the interrupted runner" eval '! pgrep -f "__cell $T/myadapter.so" >/dev/null'
check "int: an interrupted run left a report" test -z "$(find "$T" -name 'int.tap*' -print -quit)"

# ---- 7. Bad input: exit 2 and exactly one line on stderr naming the problem -------------
# bad NAME REGEX ARGS...
bad() {
  local name=$1 re=$2
  shift 2
  run_lc "$name" "$@"
  checks=$((checks + 1))
  local n
  n=$(wc -l <"$T/$name.err")
  if [ "$rc" -ne 2 ] || [ "$n" -ne 1 ] || ! grep -Eq -- "$re" "$T/$name.err"; then
    fail "$name: exit $rc, $n stderr line(s), wanted 2 and one line matching '$re': $(head -c 300 "$T/$name.err")"
  fi
}
printf 'this is not a shared object\n' >"$T/notmodule.so"
printf 'selftest.pass PASSED not a verdict\n' >"$T/badverdict.expect"
printf 'selftest.no-such-test FAIL names a test that does not exist\n' >"$T/badtest.expect"
printf 'selftest.pass FAIL\n' >"$T/noreason.expect"
printf 'selftest.pass FAIL one\nselftest.pass FAIL two\n' >"$T/dup.expect"
printf 'selftest.pass may PASS a pass cannot be expected\n' >"$T/maypass.expect"
mkdir -p "$T/badspec" "$T/dupspec"
printf 'id\tbehavior\tsource\ttests\n' >"$T/badspec/x.tsv"
printf 'id\tbehaviour\tsource\ttests\nA-1\tx\ty\t\nA-1\tx\ty\t\n' >"$T/dupspec/x.tsv"
sel=(--backend "$B" --test selftest.pass -q)
bad bad-backend "unknown backend 'no-such-backend'" run --backend no-such-backend
bad bad-test "pattern 'no.such.\*' matches no test" run --backend "$B" --test 'no.such.*'
bad bad-adapter-missing "missing.so" run --adapter "$T/missing.so" --test selftest.pass
bad bad-adapter-dir "not a regular file" run --adapter "$T" --test selftest.pass
bad bad-adapter-text "cannot load .*notmodule.so" run --adapter "$T/notmodule.so" --test selftest.pass
bad bad-adapter-noentry "does not export loopconf_backend" \
  run --adapter "$FIX/lcfix_no_entry.so" --test selftest.pass
bad bad-adapter-abi "ABI version 999" run --adapter "$FIX/lcfix_bad_abi.so" --test selftest.pass
bad bad-adapter-incomplete "lacks the mandatory operation loop_new" \
  run --adapter "$FIX/lcfix_incomplete.so" --test selftest.pass
bad bad-adapter-dupname "is used by both" run --backend "$B" --adapter "$T/myadapter.so" \
  --test selftest.pass
bad bad-flag "unknown option '--bogus'" run --bogus
bad bad-short-flag "unknown option '-x'" run -x
bad bad-missing-value "needs a value" run --backend
bad bad-jobs "--jobs '0'" run "${sel[@]}" --jobs 0
bad bad-repeat "--repeat 'abc'" run "${sel[@]}" --repeat abc
bad bad-mult "--time-multiplier '0.5'" run "${sel[@]}" --time-multiplier 0.5
LOOPCONF_TIME_MULTIPLIER=fast bad bad-mult-env "LOOPCONF_TIME_MULTIPLIER 'fast'" run "${sel[@]}"
bad bad-tier "--tier must be" run "${sel[@]}" --tier bogus
bad bad-expect-arg "NAME=FILE" run "${sel[@]}" --expect nothing
bad bad-expect-name "no selected backend is named 'other'" run "${sel[@]}" --expect "other=$T/ok.expect"
bad bad-expect-missing "cannot read expectations file" run "${sel[@]}" --expect "$B=$T/none.expect"
bad bad-expect-verdict "badverdict.expect:1: verdict 'PASSED'" run "${sel[@]}" --expect "$B=$T/badverdict.expect"
bad bad-expect-test "badtest.expect:1: no test named 'selftest.no-such-test'" \
  run "${sel[@]}" --expect "$B=$T/badtest.expect"
bad bad-expect-reason "noreason.expect:1: expected" run "${sel[@]}" --expect "$B=$T/noreason.expect"
bad bad-expect-dup "dup.expect:2: test 'selftest.pass' is listed twice" \
  run "${sel[@]}" --expect "$B=$T/dup.expect"
bad bad-expect-may "maypass.expect:1: verdict 'PASS'" run "${sel[@]}" --expect "$B=$T/maypass.expect"
bad bad-spec-dir "cannot read the spec directory" run "${sel[@]}" --spec "$T/no-such-dir"
bad bad-spec-header "x.tsv:1: the first line must be the header" run "${sel[@]}" --spec "$T/badspec"
bad bad-spec-dup "x.tsv:3: clause A-1 is already defined" spec-check --spec "$T/dupspec"
bad bad-tap-dir "cannot create" run "${sel[@]}" --tap "$T/no-such-dir/out.tap"
bad bad-command "unknown command 'frobnicate'" frobnicate
bad bad-list "unknown kind 'things'" list things
# A bad run must not leave a report behind.
run_lc noreport run --backend no-such-backend --tap "$T/never.tap" --junit "$T/never.xml"
check "noreport: a failed run wrote a report" test ! -e "$T/never.tap" -a ! -e "$T/never.xml"
# bench/compare without loopconf-bench next to the executable.
mkdir -p "$T/lonely"
cp "$LC" "$T/lonely/loopconf"
LC_SAVED=$LC
LC="$T/lonely/loopconf"
bad bad-bench "loopconf-bench is missing" bench --help
bad bad-compare "loopconf-bench is missing" compare a.json b.json
bad bad-http "loopconf-http is missing" http --help
LC=$LC_SAVED
# No arguments: usage on stderr, exit 2; --help: usage on stdout, exit 0.
run_lc noargs
expect_rc noargs 2
expect_grep noargs err "^usage:"
run_lc help --help
expect_rc help 0
expect_grep help out "loopconf run \[options\]"

# ---- 8. Listings and spec-check -----------------------------------------------------------
run_lc listb list backends
expect_rc listb 0
expect_grep listb out "^$B "
run_lc listt list tests
expect_rc listt 0
checks=$((checks + 1))
! grep -q '^selftest\.' "$T/listt.out" || fail "listt: list tests shows the hidden selftests"
mkdir -p "$T/spec"
printf 'id\tbehaviour\tsource\ttests\n# comment\nSELF-1\tlists a test that does not exist\tnone\tno.such.test\nSELF-2\thas no test\tnone\t\n' \
  >"$T/spec/self.tsv"
run_lc speccheck spec-check --spec "$T/spec"
expect_rc speccheck 1
expect_grep speccheck out "self.tsv:3: clause SELF-1 lists test no.such.test, which does not exist"
expect_grep speccheck out "self.tsv:4: clause SELF-2 has no test"
run_lc listc list clauses --spec "$T/spec"
expect_rc listc 0
expect_grep listc out "^  SELF-2 "

if [ "$failures" -ne 0 ]; then
  echo "selftest.sh: $failures of $checks checks failed" >&2
  exit 1
fi
echo "selftest.sh: all $checks checks passed"
