#!/usr/bin/env bash
# main.sh: the main job. Installs dependencies, builds loopconf, runs the whole conformance
# matrix on every backend (built-in and the example out-of-tree adapter) and prints it.
# Arguments, if any, go to `loopconf run` instead of the default selection
# (e.g. --tier loop --backend libuv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOOPCONF_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
. "$root/scripts/cmake-options.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  ${loopconf_cmake_options[@]+"${loopconf_cmake_options[@]}"} >/dev/null
cmake --build "$build"
mkdir -p "$build/results"
# Every built-in backend plus the example out-of-tree adapter (--adapter adds to the built-ins).
# Arguments given to this script replace this selection.
if [ $# -eq 0 ]; then
  set -- --adapter "$build/plugins/libexample_poll_adapter.so"
fi
exec "$build/loopconf" run --junit "$build/results/conformance.xml" \
  --tap "$build/results/conformance.tap" "$@"
