#!/usr/bin/env bash
# backend_fails.sh: no verdict without the backend. Runs the whole suite on a backend whose
# run() always fails (lcfix_run_fails.so: the reference loop with run() returning -EIO) and
# checks that no cell that runs the loop PASSes, and that every semantic cell's FAIL reason
# names the failed operation.
#
# usage: backend_fails.sh LOOPCONF FIXTURE_DIR
# Prints one line per failed check and exits 1 if any failed, 0 otherwise.
set -u
LC=$1
FIX=$2
unset LOOPCONF_TIME_MULTIPLIER
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-backend-fails.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
  echo "backend_fails.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}

"$LC" run --backend "$FIX/lcfix_run_fails.so" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] || fail "exit status $rc, wanted 1 (stderr: $(head -c 300 "$T/err"))"

# Matrix rows: TEST VERDICT CLAUSES...
awk '$1 ~ /^(loop|semantics)\./ { print $1, $2 }' "$T/out" >"$T/rows"
[ "$(grep -c '^semantics\.' "$T/rows")" -ge 40 ] || fail "fewer than 40 semantic cells ran"
[ "$(grep -c '^loop\.' "$T/rows")" -ge 20 ] || fail "fewer than 20 loop cells ran"

# Two cells never call run() on this backend and may PASS: loop.io.shared_fd (the reference
# loop refuses the second watcher in io_new, recorded as a characteristic) and
# loop.backend.declarations (with LC_CAP_NOWAIT declared it only records the declarations).
while read -r test verdict; do
  [ "$verdict" = PASS ] && [ "$test" != loop.io.shared_fd ] &&
    [ "$test" != loop.backend.declarations ] &&
    fail "$test PASSes on a backend whose run() fails"
  case $test in semantics.*)
    grep -Eq "^  run-fails $test FAIL: .*backend run-fails: run\(LC_RUN_(ONCE|NOWAIT)\) failed: -5" "$T/out" ||
      fail "$test: the FAIL reason does not name the failed run(): $(grep -m1 " $test " "$T/out" | tail -c 200)"
    ;;
  esac
done <"$T/rows"

if [ "$failures" -gt 0 ]; then
  echo "backend_fails.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "backend_fails.sh: $(wc -l <"$T/rows") cells, none PASSes without the backend"
