#!/usr/bin/env bash
# selftest_install.sh <build-dir> <source-dir>: the SDK as a loop maintainer gets it.
#   1. cmake --install into a temporary prefix; every part of the SDK is there;
#   2. the installed binary uses the installed data: spec-check passes on the installed spec/,
#      and fails once that copy is broken (so it did not read the source tree's);
#   3. a copy of adapters/example, outside the source tree, builds with find_package(loopconf)
#      through ci/loop-maintainer.sh, which runs the installed loopconf on it (loop tier) and
#      leaves TAP and JUnit reports naming only that adapter;
#   4. the same adapter builds with pkg-config alone and the installed loopconf loads it.
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
echo "selftest_install: ok ($prefix)"
