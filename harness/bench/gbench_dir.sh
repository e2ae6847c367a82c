#!/bin/sh
# gbench_dir.sh: `bench --gbench-dir DIR` writes DIR/<backend>.json, plain Google Benchmark JSON
# with one backend per file, so Google Benchmark's compare.py (which matches entries by name)
# compares two backends' rounds instead of pooling every backend into one sample. Checks the
# files and, when compare.py and a Python with scipy are installed (libbenchmark-tools,
# python3-scipy), that compare.py accepts them and sees 3 repetitions (the 3 rounds) per side.
# usage: gbench_dir.sh LOOPCONF_BENCH WORKDIR [PYTHON]
exe=$1 dir=$2 py=${3:-python3}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
build=$(cd "$(dirname "$exe")" && pwd)
set -- $(ls "$build/backends" | sed -n 's/^lcb_\(.*\)\.so$/\1/p' | head -n 2)
[ $# -eq 2 ] || { echo "SKIP: fewer than two built-in backends"; exit 77; }
a=$1 b=$2
"$exe" bench --backend "$a,$b" --filter '^loop\.idle_iteration$' --rounds 3 --min-time 0.01 \
  --out "$dir/all.json" --gbench-dir "$dir/gb" >"$dir/bench.out" 2>"$dir/bench.err" ||
  { echo "FAIL: bench --gbench-dir: $(cat "$dir/bench.err")"; exit 1; }
for be in "$a" "$b"; do
  [ -s "$dir/gb/$be.json" ] || { echo "FAIL: no $dir/gb/$be.json"; exit 1; }
done
"$py" - "$dir/gb" "$a" "$b" <<'PYEOF' || exit 1
import json, sys
d, names = sys.argv[1], sys.argv[2:]
for be in names:
    doc = json.load(open(f"{d}/{be}.json"))
    ents = doc["benchmarks"]
    bes = {e.get("backend") for e in ents}
    if bes != {be} or doc["context"].get("backend") != be:
        sys.exit(f"FAIL: {be}.json holds backends {bes}, context {doc['context'].get('backend')}")
    n = sum(1 for e in ents if e["name"] == "loop.idle_iteration" and e["run_type"] == "iteration")
    if n != 3 or any(k not in ents[0] for k in ("real_time", "cpu_time", "time_unit")):
        sys.exit(f"FAIL: {be}.json: {n} entries of loop.idle_iteration, want 3 with times")
PYEOF
cmp=/usr/share/benchmark/compare.py
# compare.py needs scipy: Debian's python3-scipy is seen by /usr/bin/python3, not by a pyenv one.
"$py" -c 'import scipy' 2>/dev/null || { /usr/bin/python3 -c 'import scipy' 2>/dev/null && py=/usr/bin/python3; }
if [ ! -e "$cmp" ] || ! "$py" -c 'import scipy' 2>/dev/null; then
  echo "gbench dir: files fine; compare.py or scipy not installed: compare.py check skipped"
  exit 0
fi
(cd "$dir/gb" && "$py" "$cmp" benchmarks "$a.json" "$b.json") >"$dir/compare.out" 2>&1 ||
  { echo "FAIL: compare.py refused the files: $(cat "$dir/compare.out")"; exit 1; }
grep -q "Repetitions: 3 vs 3" "$dir/compare.out" ||
  { echo "FAIL: compare.py did not see 3 vs 3 repetitions: $(cat "$dir/compare.out")"; exit 1; }
echo "gbench dir: one backend per file; compare.py compares $a with $b over 3 vs 3 rounds"
