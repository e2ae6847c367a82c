#!/bin/sh
# callgrind_repeatable.sh: `bench --callgrind` gives the same instruction counts twice.
# usage: callgrind_repeatable.sh LOOPCONF_BENCH WORKDIR
exe=$1 dir=$2
mkdir -p "$dir" || exit 1
# Valgrind 3.19 cannot read clang 14's default DWARF 5 debug info ("Possibly corrupted
# debuginfo file"): report SKIP (77) rather than a failure of the code under test.
probe=$(valgrind --tool=none -q "$exe" --help 2>&1 >/dev/null)
if printf '%s' "$probe" | grep -q "debuginfo"; then
  echo "SKIP: valgrind cannot read this binary's debug info (build with -gdwarf-4)"; exit 77
fi
filter='^(loop\.timer_churn|loop\.timer_dispatch|runtime\.yield|runtime\.spawn_join|coro\.switch_asm)$'
# The backends whose counts were shown to repeat (below). GLib, sd-event and tevent are not
# held to it yet: tevent's loop.timer_dispatch moved by 0.8% between two runs (2026-12-01).
bdir=$(dirname "$exe")/backends
backends=
for b in reference libuv libev libevent; do
  [ -e "$bdir/lcb_$b.so" ] && backends=${backends:+$backends,}$b
done
[ -n "$backends" ] || { echo "SKIP: none of reference, libuv, libev, libevent is built"; exit 77; }
for run in 1 2; do
  "$exe" bench --callgrind --backend "$backends" --filter "$filter" --out "$dir/cg$run.json" >/dev/null ||
    { echo "FAIL: callgrind run $run"; exit 1; }
done
# Threshold 0.5% in both directions. The reference loop, libuv and libev repeat to the
# instruction on the timer paths; the runtime paths vary by a few instructions per run (vDSO
# clock reads), and libevent's timer paths by up to ~0.3%: it stamps timers with
# CLOCK_MONOTONIC_COARSE, so which timers tie depends on when the clock ticks.
"$exe" compare "$dir/cg1.json" "$dir/cg2.json" --threshold 0.5 || { echo "FAIL: counts grew"; exit 1; }
"$exe" compare "$dir/cg2.json" "$dir/cg1.json" --threshold 0.5 || { echo "FAIL: counts shrank"; exit 1; }
# Stricter, per backend: every count except libevent's must be identical per operation at the
# precision results are published with (0.1 instruction): the two runs may differ by less than
# 0.05 instructions per item (the runtime paths move by a few dozen in tens of millions).
python3 - "$dir/cg1.json" "$dir/cg2.json" <<'PY' || exit 1
import json, sys
def counts(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return {(b["name"], b.get("backend", "")): (b["instructions"], b["items"])
            for b in doc["benchmarks"] if "instructions" in b and b.get("items")}
a, b = counts(sys.argv[1]), counts(sys.argv[2])
if not a or set(a) != set(b):
    sys.exit("FAIL: the two callgrind runs measured different benchmarks")
bad = [(k, a[k], b[k]) for k in a
       if k[1] != "libevent" and abs(a[k][0] / a[k][1] - b[k][0] / b[k][1]) >= 0.05]
for (name, backend), x, y in bad:
    print(f"FAIL: {name} on {backend}: {x[0] / x[1]:.3f} then {y[0] / y[1]:.3f} instructions per item")
exact = sum(1 for k in a if a[k] == b[k])
print(f"callgrind: {len(a)} counts, {exact} identical to the instruction, the others "
      f"within 0.05 instructions per item (libevent: within 0.5%)")
sys.exit(1 if bad else 0)
PY
