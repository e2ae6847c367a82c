#!/bin/sh
# compare_counts.sh: the compare gate on crafted results files (no benchmark runs, < 1 s).
# Issue 15's compare problems, each shown fixed: NEW without OLD's benchmarks (an empty file, a
# partial one) and nothing testable (3 vs 3 repetitions) fail the gate (exit 1) and say "M of K
# testable"; results from another CPU or library version are warned about (exit 0) and fail
# with --strict; control characters and invalid UTF-8 from a results file never reach the
# terminal raw.
# usage: compare_counts.sh LOOPCONF_BENCH TESTDATA_DIR WORKDIR
exe=$1 data=$2 dir=$3
mkdir -p "$dir" || exit 1
fail=0
check() { # check CODE PATTERN OLD NEW [OPTS...]: exit CODE and PATTERN (grep -E) in the output
  want=$1 pat=$2 old=$3 new=$4; shift 4
  "$exe" compare "$data/$old" "$data/$new" "$@" >"$dir/out" 2>"$dir/err"; got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: compare $old $new $*: exit $got, want $want"; cat "$dir/out" "$dir/err"; fail=1
  elif ! cat "$dir/out" "$dir/err" | grep -Eq "$pat"; then
    echo "FAIL: compare $old $new $*: no '$pat' in:"; cat "$dir/out" "$dir/err"; fail=1
  else
    echo "ok: compare $old $new $* -> $got ($pat)"
  fi
}
check 0 "^2 of 2 testable$" reps9.json reps9.json
check 1 "^0 of 2 testable, 2 MISSING in NEW$" reps9.json empty.json
check 1 "^1 of 2 testable, 1 MISSING in NEW$" reps9.json reps9_partial.json
check 1 "^0 of 1 testable, 1 with too few repetitions to test$" good.json good.json
check 1 "FAIL: nothing was testable" good.json good.json
check 0 "warning: context differs: cpu_model: OLD \"AMD EPYC\", NEW \"Intel Xeon\"" \
  reps9.json reps9_other_machine.json
check 0 "warning: context differs: library of libev: OLD \"libev 4.33\", NEW \"libev 4.31\"" \
  reps9.json reps9_other_machine.json
check 1 "FAIL: the machine or library context differs \(--strict\)" \
  reps9.json reps9_other_machine.json --strict
check 0 "^2 of 2 testable$" reps9.json reps9.json --strict
# Other mitigations of CPU flaws on the same CPU and kernel: warned (each is paid on every system
# call); a file from before the key (none on one side) is not warned about.
python3 - "$data/reps9.json" "$dir" <<'PY' || { echo "FAIL: cannot craft the mitigation files"; fail=1; }
import json, sys
d = json.load(open(sys.argv[1]))
for name, m in (("mit_a.json", "tsa: Mitigation: Clear CPU buffers"), ("mit_b.json", "none")):
    d["context"]["cpu_mitigations"] = m
    json.dump(d, open(f"{sys.argv[2]}/{name}", "w"))
PY
cp "$data/reps9.json" "$dir/mit_none.json"
data_saved=$data data=$dir
check 0 "warning: context differs: cpu_mitigations: OLD \"tsa: Mitigation: Clear CPU buffers\", NEW \"none\"" \
  mit_a.json mit_b.json
check 1 "FAIL: the machine or library context differs \(--strict\)" mit_a.json mit_b.json --strict
check 0 "^2 of 2 testable$" mit_none.json mit_a.json --strict
data=$data_saved
# Untrusted text: a benchmark name, a backend's error message and the CPU model carrying ESC
# sequences, BEL, a line break and a C1 CSI (U+009B); a file with invalid UTF-8.
check 1 "ERROR in NEW: crashed\?\]0;pwned\?\?second line \?2J" reps9.json evil.json
check 2 "not valid JSON" reps9.json invalid_utf8.json
for pair in "reps9.json evil.json" "evil.json evil.json" "reps9.json invalid_utf8.json"; do
  # shellcheck disable=SC2086
  set -- $pair
  "$exe" compare "$data/$1" "$data/$2" >"$dir/raw" 2>&1
  # Any control byte but LF, any C1 control in UTF-8 (C2 80-9F), any byte not valid UTF-8.
  if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$dir/raw" ||
     LC_ALL=C grep -q "$(printf '\302[\200-\237]')" "$dir/raw" ||
     ! iconv -f UTF-8 -t UTF-8 "$dir/raw" >/dev/null 2>&1; then
    echo "FAIL: compare $pair printed raw control characters or invalid UTF-8:"; od -c "$dir/raw" | head -20
    fail=1
  else
    echo "ok: compare $pair: output is clean text"
  fi
done
exit $fail
