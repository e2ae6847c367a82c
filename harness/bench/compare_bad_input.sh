#!/bin/sh
# compare_bad_input.sh: `loopconf-bench compare` on bad input: one error line, exit 2.
# usage: compare_bad_input.sh LOOPCONF_BENCH TESTDATA_DIR
exe=$1 data=$2
fail=0
expect() { # expect CODE ARGS...: run compare ARGS, want exit CODE and (for 2) one stderr line
  want=$1; shift
  err=$("$exe" compare "$@" 2>&1 >/dev/null); got=$?
  lines=$(printf '%s\n' "$err" | grep -c .)
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: compare $* exited $got, want $want; stderr: $err"; fail=1
  elif [ "$want" -eq 2 ] && [ "$lines" -ne 1 ] && [ "$1" != "--threshold" ]; then
    echo "FAIL: compare $* printed $lines error lines, want 1: $err"; fail=1
  else
    echo "ok: compare $* -> $got ${err:+($err)}"
  fi
}
expect 2 "$data/malformed.json" "$data/good.json"
expect 2 "$data/good.json" "$data/malformed.json"
expect 2 "$data/gbench_plain.json" "$data/good.json"
expect 2 "$data/other_schema.json" "$data/good.json"
expect 2 "$data/good.json" "$data/bad_entry.json"
expect 2 "$data/good.json" "$data/does-not-exist.json"
expect 2 "$data/good.json"
expect 2 "$data/good.json" "$data/good.json" --threshold abc
expect 2 "$data/good.json" "$data/good.json" --alpha 1.5
expect 1 "$data/good.json" "$data/good.json" # 3 vs 3 repetitions: nothing testable
expect 0 "$data/reps9.json" "$data/reps9.json"
# no subcommand: usage and a non-zero exit
if "$exe" >/dev/null 2>&1; then echo "FAIL: loopconf-bench without a subcommand exited 0"; fail=1; fi
exit $fail
