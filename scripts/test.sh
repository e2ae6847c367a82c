#!/usr/bin/env bash
# test.sh: the test job (what CI runs). Installs dependencies, then:
#   1. a warnings-as-errors build and every CTest test (conformance matrix on every backend,
#      runner self-tests, spec check, runtime unit tests, quick benchmarks and the compare gate);
#   2. an ASan+UBSan build of every command, and under it the whole conformance matrix, the
#      runtime tests, the runner's self-tests, the quick benchmarks with the compare gate, the
#      oracle, every HTTP server's smoke and bad-input tests and the quick sweep;
#   3. a TSan build of the runtime tests (the threaded parts: executors, wakeups).
# LOOPCONF_TEST_STAGES="plain asan tsan" selects stages. LOOPCONF_WITH_LIBUV/LIBEV/LIBEVENT=OFF
# (and LOOPCONF_BENCHMARKS=OFF) leave a library out of the packages and the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stages=${LOOPCONF_TEST_STAGES:-plain asan tsan}
jobs=$(nproc 2>/dev/null || echo 2)

"$root/scripts/install-deps.sh"
. "$root/scripts/cmake-options.sh"

# Style first (seconds): every tracked C/C++ file as .clang-format says.
echo "== test.sh: clang-format check" >&2
(cd "$root" && git ls-files '*.c' '*.h' '*.cc' | xargs clang-format --dry-run --Werror --style=file) ||
  { echo "test.sh: files differ from .clang-format (run: git ls-files '*.c' '*.h' '*.cc' | xargs clang-format -i)" >&2; exit 1; }

build_and_test() { # name cmake-args... -- ctest-args...
  local name=$1; shift
  local dir="$root/build-$name" cm=() ct=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cm+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  ct=("$@")
  echo "== test.sh: $name build" >&2
  cmake -S "$root" -B "$dir" -G Ninja -DLOOPCONF_WERROR=ON -DLOOPCONF_TEST_TIME_MULTIPLIER="$mult" \
    ${loopconf_cmake_options[@]+"${loopconf_cmake_options[@]}"} "${cm[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test.sh: $name tests" >&2
  (cd "$dir" && LOOPCONF_TIME_MULTIPLIER=$mult ctest --output-on-failure "${ct[@]}")
}

# Sanitizers slow everything down 2-10x: widen every time limit and tolerance for them
# (verdicts were checked not to change with multipliers up to 3). The one multiplier sets
# both the cells' limits (LOOPCONF_TIME_MULTIPLIER at run time) and every CTest TIMEOUT
# (LOOPCONF_TEST_TIME_MULTIPLIER at configure time, cmake/test_timeouts.cmake).
base_mult=${LOOPCONF_TIME_MULTIPLIER:-1}
for s in $stages; do
  case $s in
    plain) mult=$base_mult ;;
    *) mult=$(python3 -c "print(max(float('$base_mult'), 2.0))") ;;
  esac
  case $s in
    plain) build_and_test plain -DCMAKE_BUILD_TYPE=RelWithDebInfo -- ;;
    asan)  build_and_test asan -DCMAKE_BUILD_TYPE=Debug -DLOOPCONF_SANITIZE=address,undefined \
             -- -L 'conformance|runtime|reference|runner|bench|spec|oracle|http|sweep' ;;
    tsan)  build_and_test tsan -DCMAKE_BUILD_TYPE=Debug -DLOOPCONF_SANITIZE=thread \
             -DLOOPCONF_BENCHMARKS=OFF -- -L runtime ;;
    *) echo "test.sh: unknown stage '$s' (plain, asan, tsan)" >&2; exit 2 ;;
  esac
done
