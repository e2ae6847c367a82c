#!/usr/bin/env bash
# selftest_install.sh <build-dir> <source-dir>: the SDK as a loop maintainer gets it.
#   1. cmake --install into a temporary prefix; every part of the SDK is there;
#   2. the installed binary uses the installed data: spec-check passes on the installed spec/,
#      and fails once that copy is broken (so it did not read the source tree's);
#   3. a copy of adapters/example, outside the source tree, builds with find_package(loopconf)
#      through ci/loop-maintainer.sh, which runs the installed loopconf on it (loop tier) and
#      leaves TAP and JUnit reports naming only that adapter;
#   4. the same adapter builds with pkg-config alone and the installed loopconf loads it;
#   5. with the prefix moved elsewhere, the installed `loopconf http --smoke` serves from its
#      installed Python server script (and fails once that copy is broken), and the installed
#      `loopconf sweep` finds its installed lcsweep.py.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "selftest_install: FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
for f in bin/loopconf include/loopconf/backend.h include/loopconf/clock.h \
         lib/cmake/loopconf/loopconfConfig.cmake lib/cmake/loopconf/loopconfConfigVersion.cmake \
         lib/cmake/loopconf/loopconfAdapter.cmake lib/pkgconfig/loopconf.pc \
         share/loopconf/spec/loop-contract.tsv share/loopconf/spec/semantics.tsv \
         share/loopconf/oracle/oracle.py share/doc/loopconf/ci/loop-maintainer.sh \
         share/loopconf/example/example_poll.c; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
ls "$prefix"/include/loopconf/*runtime*.h >/dev/null 2>&1 || fail "the runtime header is not installed"
for so in "$build"/backends/lcb_*.so; do
  name=$(basename "$so" .so)
  [ -f "$prefix/lib/loopconf/backends/$name.so" ] || fail "backend $name.so is not installed"
  [ -f "$prefix/lib/loopconf/backends/$name.expect" ] || fail "$name.expect is not installed"
done
[ "$("$prefix/bin/loopconf" list backends | awk 'NR > 1 { print $1 }')" = \
  "$("$build/loopconf" list backends | awk 'NR > 1 { print $1 }')" ] || fail "the installed backends differ"
first=$(ls "$build"/backends/lcb_*.so | head -1 | sed 's|.*/lcb_||; s|\.so$||')
"$prefix/bin/loopconf" run --backend "$first" --test loop.timer.order -q \
  --junit "$tmp/which.xml" >/dev/null 2>&1 || fail "the installed loopconf cannot run $first"
grep -qF "value=\"$prefix/bin/../lib/loopconf/backends/lcb_$first.so\"" "$tmp/which.xml" ||
  fail "the installed loopconf does not load the installed backends"

# 2. data relative to the binary
"$prefix/bin/loopconf" spec-check >"$tmp/spec.log" 2>&1 ||
  { cat "$tmp/spec.log" >&2; fail "spec-check fails on the installed spec/"; }
printf 'ZZ-INSTALL-PROBE\tan installed clause no test claims\tnone\tloop.timer.order\n' >>"$prefix/share/loopconf/spec/loop-contract.tsv"
if "$prefix/bin/loopconf" spec-check >"$tmp/spec.log" 2>&1; then
  fail "spec-check ignored the installed spec/ (read the source tree's?)"
fi
cp "$src/spec/loop-contract.tsv" "$prefix/share/loopconf/spec/loop-contract.tsv"

# the installed oracle finds the installed loopconf and spec/ by itself
if command -v python3 >/dev/null; then
  (cd "$tmp" && env -u LOOPCONF python3 "$prefix/share/loopconf/oracle/oracle.py" --backend "$first" \
     --test semantics.sched.call_soon >"$tmp/oracle.log" 2>&1) ||
    { cat "$tmp/oracle.log" >&2; fail "the installed oracle does not run"; }
fi

# 3. the CI recipe with find_package(loopconf), from a copy outside the tree
cp -r "$prefix/share/loopconf/example" "$tmp/adapter"
rc=0
bash "$src/ci/loop-maintainer.sh" "$prefix" "$tmp/adapter" "$tmp/out" --tier loop -q \
  >"$tmp/recipe.log" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$tmp/recipe.log" "$tmp"/out/*.log >&2 2>/dev/null; fail "loop-maintainer.sh exit $rc"; }
grep -q "CMAKE_PREFIX_PATH\|loopconf_DIR" "$tmp/out/adapter-build/CMakeCache.txt" ||
  fail "the adapter was not configured against the prefix"
grep -q "^loopconf_DIR:PATH=$prefix/lib/cmake/loopconf" "$tmp/out/adapter-build/CMakeCache.txt" ||
  fail "find_package(loopconf) did not find the installed SDK"
[ -f "$tmp/out/adapter-build/libexample_poll_adapter.expect" ] ||
  fail "loopconf_add_adapter did not copy the expectations next to the module"
tap=$tmp/out/loopconf.tap
[ -s "$tap" ] && [ -s "$tmp/out/loopconf.xml" ] || fail "no TAP/JUnit reports"
n=$(grep -c '^ok ' "$tap" || true)
[ "$n" -ge 10 ] || fail "only $n passing lines in the TAP report"
if grep -E '^(not )?ok ' "$tap" | grep -qv ' - example-poll/'; then
  fail "--backend MODULE ran other backends too"
fi

# 4. pkg-config only
if command -v pkg-config >/dev/null && command -v cc >/dev/null; then
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  [ "$(pkg-config --variable=backenddir loopconf)" -ef "$prefix/lib/loopconf/backends" ] ||
    fail "loopconf.pc's backenddir is wrong"
  # shellcheck disable=SC2046
  cc -std=c11 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags loopconf) \
    "$tmp/adapter/example_poll.c" -o "$tmp/pc_adapter.so" || fail "pkg-config build failed"
  "$(pkg-config --variable=loopconf loopconf)" run --backend "$tmp/pc_adapter.so" \
    --test loop.timer.order -q >"$tmp/pc.log" 2>&1 ||
    { cat "$tmp/pc.log" >&2; fail "the pkg-config-built adapter does not pass loop.timer.order"; }
fi
# 5. loopconf http and sweep from a moved prefix: their scripts are found relative to the binary
if [ -x "$prefix/bin/loopconf-http" ]; then
  [ -f "$prefix/share/loopconf/harness/http/lchttp_asyncio.py" ] ||
    fail "the HTTP server script is not installed"
  moved=$tmp/moved
  mv "$prefix" "$moved"
  if command -v wrk >/dev/null && command -v python3 >/dev/null; then
    env -u LOOPCONF_DATA_DIR -u LOOPCONF_BACKEND_DIR "$moved/bin/loopconf" http --smoke -q \
      --servers "runtime-$first,asyncio" >"$tmp/http.log" 2>&1 ||
      { cat "$tmp/http.log" >&2; fail "the installed loopconf http --smoke fails from a moved prefix"; }
    grep -q "^asyncio: ok" "$tmp/http.log" || fail "no asyncio result from the installed loopconf http"
    script=$moved/share/loopconf/harness/http/lchttp_asyncio.py
    cp "$script" "$tmp/lchttp_asyncio.py.orig"
    echo 'raise SystemExit("ZZ-INSTALL-PROBE")' >"$script"
    if env -u LOOPCONF_DATA_DIR "$moved/bin/loopconf" http --smoke -q --servers asyncio \
      >"$tmp/http.log" 2>&1; then
      fail "loopconf http ignored the installed server script (ran the source tree's?)"
    fi
    rm "$script"
    rc=0
    env -u LOOPCONF_DATA_DIR "$moved/bin/loopconf" http --smoke -q --servers asyncio \
      >"$tmp/http.log" 2>&1 || rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/http.log")" -eq 1 ] && grep -q "lchttp_asyncio.py" "$tmp/http.log" ||
      { cat "$tmp/http.log" >&2; fail "a missing server script is not one error line and exit 2 (exit $rc)"; }
    cp "$tmp/lchttp_asyncio.py.orig" "$script"
  fi
  [ -f "$moved/share/loopconf/harness/sweep/lcsweep.py" ] || fail "lcsweep.py is not installed"
  if command -v python3 >/dev/null; then
    env -u LOOPCONF_DATA_DIR "$moved/bin/loopconf" sweep --workload sleep --model asyncio --n 1 \
      --repetitions 1 -q --out "$tmp/sweep.json" >"$tmp/sweep.log" 2>&1 ||
      { cat "$tmp/sweep.log" >&2; fail "the installed loopconf sweep fails from a moved prefix"; }
    python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["cells"]; sys.exit(not (len(c) == 1 and c[0]["reps_ok"] == 1))' \
      "$tmp/sweep.json" || fail "the installed loopconf sweep did not run its asyncio model"
    sweep_py=$moved/share/loopconf/harness/sweep/lcsweep.py
    cp "$sweep_py" "$tmp/lcsweep.py.orig"
    echo 'raise SystemExit("ZZ-INSTALL-PROBE")' >"$sweep_py"
    env -u LOOPCONF_DATA_DIR "$moved/bin/loopconf" sweep --workload sleep --model asyncio --n 1 \
      --repetitions 1 -q --out "$tmp/sweep2.json" >"$tmp/sweep.log" 2>&1 || true
    if python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["cells"]; sys.exit(not (len(c) == 1 and c[0]["reps_ok"] == 1))' \
      "$tmp/sweep2.json" 2>/dev/null; then
      fail "loopconf sweep ignored the installed lcsweep.py (ran the source tree's?)"
    fi
    cp "$tmp/lcsweep.py.orig" "$sweep_py"
  fi
  mv "$moved" "$prefix"
fi
echo "selftest_install: ok ($prefix)"
