#!/bin/sh
# lchttp_usage.sh LOOPCONF_HTTP: bad usage and missing tools are one error line and exit 2,
# before any server starts.
http=$1
fail=0
expect2() { # description, expected text, command...
  what=$1 text=$2
  shift 2
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  lines=$(printf '%s\n' "$err" | grep -c .)
  if [ "$rc" -ne 2 ] || ! printf '%s' "$err" | grep -q -- "$text" || [ "$lines" -ne 1 ]; then
    echo "FAIL: $what: exit $rc, stderr: $err"
    fail=1
  fi
}
empty=$(mktemp -d)
expect2 "no wrk" "wrk is not installed" env PATH="$empty" "$http" --smoke
mkdir "$empty/w" && ln -s "$(command -v wrk)" "$empty/w/wrk"
expect2 "no gnuplot" "gnuplot is not installed" env PATH="$empty/w" "$http" --out "$empty/out"
expect2 "empty level" "has an empty entry" "$http" --connections 16,,64 --smoke
expect2 "bad duration" "is not a whole number" "$http" --duration 0
expect2 "unknown server" "matches no server" "$http" --servers nope --smoke
expect2 "stray argument" "unexpected argument" "$http" --smoke extra
expect2 "unknown flag" "unknown option '--bogus' (see loopconf http --help)" "$http" --bogus=1 --smoke
expect2 "unknown short flag" "unknown option '-x'" "$http" -qx --smoke
expect2 "unknown short flag mid-cluster" "unknown option '-x' (see" "$http" --smoke -xq
expect2 "value for a flag that takes none" "option '--quiet' takes no value" "$http" --quiet=1 --smoke
expect2 "flag without its value" "option '--out' needs a value" "$http" --smoke --out
expect2 "client: unknown flag" "unknown option '--bogus'" "$http" __openloop --port 1 --rate 1 --bogus
expect2 "client: flag without its value" "option '--rate' needs a value" "$http" __openloop --port 1 --rate
expect2 "client: bad --wait" "--wait must be auto, spin or sleep" "$http" __openloop --port 1 --rate 1 --wait fast
expect2 "unwritable --out" "--out" "$http" --out /proc/nope/dir
echo '{"a": 1}' >"$empty/foreign.json"
echo '{"context": {"wrk_version": "x"}, "servers": [{"name": "nope", "open_loop": [{"load": 0.5, "target_rate": 100, "runs": [{}]}]}]}' >"$empty/nope.json"
echo '{"context": {"wrk_version": "x"}, "servers": [{"name": "threads", "cells": []}]}' >"$empty/noset.json"
printf '{"context": ' >"$empty/broken.json"
expect2 "--reproduce missing file" "No such file" "$http" --reproduce "$empty/none.json" --out "$empty/o"
expect2 "--reproduce not JSON" "not valid JSON" "$http" --reproduce "$empty/broken.json" --out "$empty/o"
expect2 "--reproduce foreign JSON" "not a loopconf http results file" "$http" --reproduce "$empty/foreign.json" --out "$empty/o"
expect2 "--reproduce no sets" "no open-loop sets" "$http" --reproduce "$empty/noset.json" --out "$empty/o"
expect2 "--reproduce absent server" "'nope' is not available here" "$http" --reproduce "$empty/nope.json" --out "$empty/o"
expect2 "--reproduce with --smoke" "cannot be combined" "$http" --reproduce "$empty/nope.json" --smoke
echo '{"context": {"wrk_version": "x", "cpu_model": "Crafted CPU 9000", "num_cpus": 2}, "servers": [{"name": "threads", "open_loop": [{"load": 0.5, "target_rate": 100, "runs": [{}]}]}]}' >"$empty/other.json"
expect2 "--reproduce on another machine" "not a repeat on the same machine" "$http" --reproduce "$empty/other.json" --out "$empty/o"
[ ! -e "$empty/o/reproduce.json" ] || { echo "FAIL: a refused --reproduce wrote reproduce.json"; fail=1; }
# the same CPU model and count, but another kernel build, or other mitigations of CPU flaws
python3 - "$empty" <<'PY'
import json, os, sys
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
base = {"wrk_version": "x", "cpu_model": model, "num_cpus": len(os.sched_getaffinity(0))}
sets = [{"name": "threads", "open_loop": [{"load": 0.5, "target_rate": 100, "runs": [{}]}]}]
rel = os.uname().release
for name, extra in (("kernel", {"kernel": "Linux 0.0.1-crafted #1 SMP x86_64"}),
                    ("mitig", {"kernel": f"Linux {rel} #1 SMP x86_64", "cpu_mitigations": "crafted: Vulnerable"})):
    json.dump({"context": dict(base, **extra), "servers": sets}, open(f"{sys.argv[1]}/{name}.json", "w"))
PY
expect2 "--reproduce on another kernel" "measured on kernel 0.0.1-crafted, this is $(uname -r): not a repeat" "$http" --reproduce "$empty/kernel.json" --out "$empty/o"
expect2 "--reproduce with other CPU mitigations" "CPU mitigations differ" "$http" --reproduce "$empty/mitig.json" --out "$empty/o"
[ ! -e "$empty/o/reproduce.json" ] || { echo "FAIL: a refused --reproduce wrote reproduce.json"; fail=1; }
expect2 "--any-machine alone" "goes with --reproduce" "$http" --any-machine --out "$empty/o"
expect2 "--drift with three entries" "want four percentages" "$http" --drift 5,20,35 --smoke
expect2 "--drift not a number" "--drift entry" "$http" --drift 5,x,35,100 --smoke
expect2 "--open-loop-loads 0%" "--open-loop-loads entry" "$http" --open-loop-loads 0,50 --smoke
expect2 "--open-loop-loads empty" "want 1 to 16 percentages" "$http" --open-loop-loads , --smoke
expect2 "a spinning realtime client past 20 s" "over 20 s, a realtime client" "$http" --open-loop-duration 19 --open-loop-warmup 1.5 --out "$empty/o"
expect2 "past 20 s, sleeping: allowed (fails later, on the server)" "'nope' matches no server" "$http" --open-loop-duration 30 --keep-rt-throttle --servers nope --out "$empty/o"
expect2 "past 20 s, normal priority: allowed" "'nope' matches no server" "$http" --open-loop-duration 30 --no-realtime --servers nope --out "$empty/o"
expect2 "past 20 s with --smoke (no open loop): allowed" "'nope' matches no server" "$http" --smoke --open-loop-duration 30 --servers nope
expect2 "bad --open-loop-warmup" "--open-loop-warmup" "$http" --open-loop-warmup x --smoke
printf 'no markers here\n' >"$empty/README.md"
expect2 "--readme without the block" "needs one '<!-- http-table:begin -->'" "$http" --regenerate --out "$empty" --readme "$empty/README.md"
expect2 "--readme missing" "--readme" "$http" --regenerate --out "$empty" --readme "$empty/nope.md"
expect2 "--readme with --smoke" "go with a full run" "$http" --readme "$empty/README.md" --smoke
expect2 "--regenerate without results" "http.json" "$http" --regenerate --out "$empty"
rm -rf "$empty"
[ "$fail" -eq 0 ] && echo "ok: usage errors exit 2 with one line"
exit "$fail"
