#!/usr/bin/env bash
# loop-maintainer.sh: the CI job of a loop maintainer, against an installed loopconf:
#   1. build the adapter with find_package(loopconf) (CMAKE_PREFIX_PATH=<prefix>),
#   2. run the conformance suite on it with the installed `loopconf`,
#   3. leave TAP and JUnit reports in <out> for the CI system to publish.
# usage: loop-maintainer.sh <prefix> <adapter-source-dir> <out-dir> [loopconf run options...]
#   e.g. loop-maintainer.sh /opt/loopconf ./loopconf-adapter ./reports --time-multiplier 2
# The adapter's CMakeLists.txt calls loopconf_add_adapter(); its module must be the only *.so
# at the top of its build directory (or set LOOPCONF_ADAPTER_MODULE to its path).
# Exit status: that of `loopconf run` (0 every verdict expected, 1 an unexpected verdict,
# 2 bad input), or 2 when the adapter does not build.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 <prefix> <adapter-source-dir> <out-dir> [loopconf run options...]" >&2
  exit 2
fi
prefix=$(cd "$1" && pwd) || { echo "$0: no loopconf prefix $1" >&2; exit 2; }
src=$(cd "$2" && pwd) || { echo "$0: no adapter source directory $2" >&2; exit 2; }
out=$3
shift 3
loopconf=$prefix/bin/loopconf
if [ ! -x "$loopconf" ]; then
  echo "$0: $loopconf is missing: install loopconf with cmake --install <build> --prefix $prefix" >&2
  exit 2
fi
mkdir -p "$out"
build=$out/adapter-build

echo "== loop-maintainer: building the adapter in $src" >&2
if ! cmake -S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
       >"$out/adapter-configure.log" 2>&1 ||
   ! cmake --build "$build" >"$out/adapter-build.log" 2>&1; then
  cat "$out/adapter-configure.log" "$out/adapter-build.log" 2>/dev/null | tail -20 >&2
  echo "$0: the adapter in $src does not build (logs in $out)" >&2
  exit 2
fi
module=${LOOPCONF_ADAPTER_MODULE:-}
if [ -z "$module" ]; then
  mods=("$build"/*.so)
  if [ ${#mods[@]} -ne 1 ] || [ ! -f "${mods[0]}" ]; then
    echo "$0: expected one *.so in $build, found: ${mods[*]}; set LOOPCONF_ADAPTER_MODULE" >&2
    exit 2
  fi
  module=${mods[0]}
fi

echo "== loop-maintainer: $("$loopconf" --version) on $module" >&2
rc=0
"$loopconf" run --backend "$module" --tap "$out/loopconf.tap" --junit "$out/loopconf.xml" "$@" ||
  rc=$?
echo "== loop-maintainer: exit $rc; reports: $out/loopconf.tap $out/loopconf.xml" >&2
exit $rc
