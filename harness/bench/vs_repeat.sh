#!/bin/sh
# vs_repeat.sh: N consecutive `bench --vs` runs of a build against itself (the issue-16 check
# "no false regression in 20 runs"); prints one line per run and the total of REGRESSED rows.
# Not a CTest (minutes): run by hand, e.g. sh harness/bench/vs_repeat.sh build/loopconf-bench
# /tmp/vsrep 20 --backend reference,libev --filter '^(loop\.idle_iteration|runtime\.yield)$'
# usage: vs_repeat.sh LOOPCONF_BENCH WORKDIR N [bench options...]
exe=$1 dir=$2 n=$3; shift 3
build=$(cd "$(dirname "$exe")" && pwd)
mkdir -p "$dir/other" || exit 1
printf '#!/bin/sh\nunset LOOPCONF_BENCH_SLOWDOWN\nexec "%s" "$@"\n' "$build/loopconf-bench" \
  >"$dir/other/loopconf-bench" && chmod +x "$dir/other/loopconf-bench" || exit 1
ln -sfn "$build/backends" "$dir/other/backends" || exit 1
total=0 failed=0 i=1
while [ "$i" -le "$n" ]; do
  start=$(date +%s)
  "$exe" bench "$@" --vs "$dir/other" --out "$dir/run$i.json" >"$dir/run$i.txt" 2>"$dir/run$i.err"
  rc=$?
  reg=$(grep -c "  REGRESSED" "$dir/run$i.txt")
  summary=$(grep " testable" "$dir/run$i.txt")
  verdicts=$(sed -n '/^backend /,/^paired/p' "$dir/run$i.txt" | sed '1d;$d' |
             sed 's/.*[0-9]  \([a-zA-Z ,]*\).*/\1/' | sort | uniq -c | tr -s ' \n' ' ')
  echo "run $i: exit $rc, $reg REGRESSED, $summary, verdicts:$verdicts, $(($(date +%s) - start)) s, load $(cut -d' ' -f1 /proc/loadavg)"
  total=$((total + reg))
  [ $rc -eq 0 ] || failed=$((failed + 1))
  i=$((i + 1))
done
echo "$n runs: $total REGRESSED rows, $failed non-zero exits"
[ "$failed" -eq 0 ]
