#!/bin/sh
# sweep_bad_input.sh LOOPCONF DIR: bad input to `loopconf sweep` is one error line and exit 2,
# checked before any cell runs; a malformed or foreign results file likewise.
set -u
exe=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
fails=0
expect2() { # description, then the command
  what=$1
  shift
  "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  lines=$(wc -l <"$dir/err")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -q "error:" "$dir/err"; then
    echo "FAIL: $what: exit $rc, $lines stderr lines:"
    cat "$dir/err"
    fails=$((fails + 1))
  fi
}
expect2 "unknown workload" "$exe" sweep --workload nap --out "$dir/r.json"
expect2 "unknown model" "$exe" sweep --model fibers --out "$dir/r.json"
expect2 "N of 0" "$exe" sweep --n 0 --out "$dir/r.json"
expect2 "N not a number" "$exe" sweep --n 10,lots --out "$dir/r.json"
expect2 "empty list item" "$exe" sweep --workload sleep,,io --out "$dir/r.json"
expect2 "bad repetitions" "$exe" sweep --repetitions x --out "$dir/r.json"
expect2 "bad big budget" "$exe" sweep --big-budget -1 --out "$dir/r.json"
expect2 "unwritable --out" "$exe" sweep --quick --out "$dir/no/such/dir/r.json"
expect2 "stray argument" "$exe" sweep --quick extra --out "$dir/r.json"
expect2 "unknown flag" "$exe" sweep --quick --bogus --out "$dir/r.json"
expect2 "flag without its value" "$exe" sweep --quick --out
expect2 "unknown backend" "$exe" sweep --backend nosuchloop --out "$dir/r.json"
fixtures=$(dirname "$exe")/harness/runner/fixtures
if [ -e "$fixtures/lcfix_bad_abi.so" ]; then
  expect2 "backend with the wrong ABI" "$exe" sweep --backend "$fixtures/lcfix_bad_abi.so" --out "$dir/r.json"
fi
printf '{"schema": "loopconf-sweep/1", "cells": [' >"$dir/malformed.json"
expect2 "malformed results" "$exe" sweep plot "$dir/malformed.json" --out "$dir"
printf '{"context": {}, "benchmarks": []}\n' >"$dir/foreign.json"
expect2 "foreign results" "$exe" sweep plot "$dir/foreign.json" --out "$dir"
printf '{"schema": "loopconf-sweep/1", "context": {}, "models": [], "cells": [{"model": 3}]}\n' >"$dir/badcell.json"
expect2 "results with a bad cell" "$exe" sweep plot "$dir/badcell.json" --out "$dir"
expect2 "plot without --out" "$exe" sweep plot "$dir/foreign.json"
printf '{"schema": "loopconf-sweep/1", "context": {}, "models": [], "cells": []}\n' >"$dir/empty.json"
expect2 "plot into a missing directory" "$exe" sweep plot "$dir/empty.json" --out "$dir/nodir"
expect2 "gnuplot missing" env LOOPCONF_GNUPLOT=/nonexistent/gnuplot "$exe" sweep plot "$dir/empty.json" --out "$dir"
# No cell ran and nothing was written for any of the above.
if [ -e "$dir/r.json" ]; then echo "FAIL: a results file was written"; fails=$((fails + 1)); fi
# The good case of the same empty file draws (so the cases above fail for their own reason).
if ! "$exe" sweep plot "$dir/empty.json" --out "$dir" -q; then
  echo "FAIL: plotting an empty but valid results file failed"
  fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "sweep bad input: all cases gave one error line and exit 2"
[ "$fails" -eq 0 ]
