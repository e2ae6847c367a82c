#!/bin/sh
# bench_safety.sh: the problems issue 15 found in `bench`, each shown fixed (seconds, not
# minutes). A backend that hangs is killed at --timeout and reported, and bench finishes
# (exit 1); SIGTERM/SIGINT stop the running child and remove its temporary files (exit
# 128+signal); a bad --out and an unloadable --adapter are refused up front (exit 2, one line,
# no results file, before any benchmark ran); one progress line per child on stderr when piped.
# The "hang" is LOOPCONF_BENCH_SLOWDOWN=loop.timer_dispatch:1000 (its one iteration of ~1 s
# then spins for ~1000 s). usage: bench_safety.sh LOOPCONF_BENCH WORKDIR
exe=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
build=$(cd "$(dirname "$exe")" && pwd)
backend=reference
[ -e "$build/backends/lcb_$backend.so" ] ||
  backend=$(ls "$build/backends" | sed -n 's/^lcb_\(.*\)\.so$/\1/p' | head -n 1)
fail() { echo "FAIL: $*"; exit 1; }
one_line() { [ "$(grep -c . "$1")" -eq 1 ] || fail "$2: want one error line, got: $(cat "$1")"; }
filter='^loop\.idle_iteration$' hang='^loop\.timer_dispatch$'

# 1. Up front: an --out in a missing directory, an unloadable --adapter, a bad --gbench-dir.
"$exe" bench --backend "$backend" --filter "$filter" --rounds 1 --out "$dir/no/such/dir/r.json" \
  >/dev/null 2>"$dir/out.err"
[ $? -eq 2 ] || fail "--out in a missing directory: want exit 2"
one_line "$dir/out.err" "--out in a missing directory"
grep -q "== round" "$dir/out.err" && fail "--out was checked only after benchmarks ran"
printf 'not a module\n' >"$dir/bogus.so"
"$exe" bench --adapter "$dir/bogus.so" --filter "$filter" --out "$dir/bogus.json" \
  >/dev/null 2>"$dir/adapter.err"
[ $? -eq 2 ] || fail "unloadable --adapter: want exit 2"
one_line "$dir/adapter.err" "unloadable --adapter"
[ -e "$dir/bogus.json" ] && fail "unloadable --adapter: a results file was written"
: >"$dir/afile"
"$exe" bench --backend "$backend" --filter "$filter" --gbench-dir "$dir/afile" \
  --out "$dir/g.json" >/dev/null 2>"$dir/gdir.err"
[ $? -eq 2 ] || fail "--gbench-dir on a file: want exit 2"
one_line "$dir/gdir.err" "--gbench-dir on a file"

# 2. Progress when piped: one line per child and round (2 rounds x (backend + independent set)).
"$exe" bench --backend "$backend" --filter "$filter|^coro\.switch_asm$" --rounds 2 \
  --min-time 0.01 --out "$dir/p.json" 2>&1 >/dev/null | cat >"$dir/progress.err"
n=$(grep -c "^== round" "$dir/progress.err")
[ "$n" -eq 4 ] || fail "piped stderr: want 4 progress lines, got $n: $(cat "$dir/progress.err")"

# 3. A hung backend: killed at --timeout, reported, bench finishes with exit 1.
start=$(date +%s)
LOOPCONF_BENCH_SLOWDOWN=loop.timer_dispatch:1000 "$exe" bench --backend "$backend" \
  --filter "$hang" --rounds 1 --timeout 2 --out "$dir/hang.json" >/dev/null 2>"$dir/hang.err"
rc=$? took=$(($(date +%s) - start))
[ $rc -eq 1 ] || fail "hung backend: exit $rc, want 1: $(cat "$dir/hang.err")"
grep -q "did not finish within" "$dir/hang.err" || fail "hung backend not reported: $(cat "$dir/hang.err")"
mult=${LOOPCONF_TIME_MULTIPLIER:-1}
limit=$(awk "BEGIN { print int(2 * $mult + 20 * $mult) }")
[ "$took" -le "$limit" ] || fail "hung backend: bench took $took s (limit $limit s)"

# 4. Signals: the running child goes and its temporary results file is removed.
for sig in TERM:15 INT:2; do
  num=${sig#*:} sig=${sig%:*}
  mark="lc_bench_safety_$$_$sig"
  LC_BENCH_SAFETY_MARK=$mark LOOPCONF_BENCH_SLOWDOWN=loop.timer_dispatch:1000 \
    "$exe" bench --backend "$backend" --filter "$hang" --rounds 1 --out "$dir/sig.json" \
    >/dev/null 2>"$dir/sig.err" &
  pid=$!
  child="" tmp="" i=0
  while [ $i -lt 100 ] && [ -z "$tmp" ]; do # find the benchmarking child by its environment
    sleep 0.1; i=$((i + 1))
    for p in $(grep -l "LC_BENCH_SAFETY_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null |
               sed 's,/proc/\([0-9]*\)/environ,\1,'); do
      [ "$p" = "$pid" ] && continue
      t=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 's/^--benchmark_out=//p')
      [ -n "$t" ] && child=$p tmp=$t
    done
  done
  [ -n "$tmp" ] || { kill -KILL $pid; fail "SIG$sig: never saw the benchmarking child"; }
  [ -e "$tmp" ] || fail "SIG$sig: the child's temporary file $tmp does not exist"
  kill -$sig $pid
  wait $pid; rc=$?
  want=$((128 + num))
  [ $rc -eq $want ] || fail "SIG$sig: bench exited $rc, want $want"
  sleep 0.2
  left=$(grep -l "LC_BENCH_SAFETY_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null)
  [ -z "$left" ] || fail "SIG$sig: processes outlived bench: $left"
  [ -e "$tmp" ] && fail "SIG$sig: temporary file $tmp left behind"
  [ -e "$dir/sig.json" ] && fail "SIG$sig: a results file was written"
done
echo "bench safety: up-front refusals, piped progress, hung backend killed, signals clean up"
