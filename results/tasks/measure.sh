#!/usr/bin/env bash
# measure.sh: re-measures every figure in results/tasks/ (issue 12: what a task costs, in both
# stack modes, against asyncio and uvloop) with the build in BUILD (default build/), on a quiet
# machine: about 2 minutes on 2 cores. Writes each file atomically and the load average around
# each step to load.txt. Then `build/loopconf report --readme README.md` puts the asyncio/uvloop
# table into the README.
#   bash results/tasks/measure.sh [BUILD]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -le 1 ] || { echo "measure.sh: usage: bash results/tasks/measure.sh [BUILD]" >&2; exit 2; }
build=$(cd "${1:-$root/build}" 2>/dev/null && pwd) ||
  { echo "measure.sh: ${1:-$root/build}: no such build directory" >&2; exit 2; }
for f in "$build/loopconf" "$build/loopconf-bench"; do
  [ -x "$f" ] || { echo "measure.sh: $f is missing (build first: cmake --build build)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lc-tasks.XXXXXX")
child=
stop() { # signal: stop the running step and everything it started (its own process group; a
  # bench cleans up after itself on SIGTERM), then exit 128+signal
  [ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null && wait "$child" 2>/dev/null
  exit "$1"
}
trap 'rm -rf "$tmp"' EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
step() { # name command...
  local name=$1; shift
  echo "== measure.sh: $name" >&2
  echo "$name start $(date -u '+%F %T') load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/load.txt"
  setsid "$@" &
  child=$!
  wait "$child" || { echo "measure.sh: $name failed" >&2; exit 1; }
  child=
  echo "$name end   $(date -u '+%F %T') load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/load.txt"
}
echo "commit $(git -C "$root" rev-parse --short HEAD) on $(nproc) cpus, $(uname -r)" >"$tmp/load.txt"
step py_tasks /usr/bin/python3 "$root/harness/bench/py_tasks.py" --rounds 5 \
  --loopconf "$build/loopconf" --json "$tmp/py_tasks_100k.json" >"$tmp/py_tasks_100k.md"
filter='^(runtime\.(gather_100k_sleep|spawn_join|memory_per_task|yield)(/mode:copy)?|coro\.switch_asm)$'
step bench_tasks "$build/loopconf" bench --filter "$filter" --rounds 2 --repetitions 3 \
  --out "$tmp/bench_tasks.json"
step bench_memory_1m env LOOPCONF_BENCH_MEM_TASKS=1000000 "$build/loopconf" bench \
  --backend reference --filter '^runtime\.memory_per_task(/mode:copy)?$' --rounds 1 \
  --repetitions 3 --out "$tmp/bench_memory_1m.json"
step callgrind "$build/loopconf" bench --backend reference --quick --callgrind \
  --filter '^(runtime\.yield|runtime\.spawn_join|coro\.switch_asm)(/mode:copy)?$' \
  --out "$tmp/callgrind_after.json"
for f in py_tasks_100k.json py_tasks_100k.md bench_tasks.json bench_memory_1m.json \
  callgrind_after.json load.txt; do
  cp "$tmp/$f" "$here/.$f.tmp" && mv "$here/.$f.tmp" "$here/$f"
done
echo "measure.sh: wrote $here (tables: python3 $here/summary.py --write)" >&2
