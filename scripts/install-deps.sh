#!/usr/bin/env bash
# install-deps.sh: make sure every Debian package loopconf needs is installed.
# As root it installs what is missing with non-interactive apt-get; otherwise it prints the
# exact command to run and exits 1. Nothing is downloaded from anywhere but the Debian archive.
#
# Only what the selected build needs: the same switches as the CMake options, read from the
# environment (default ON), e.g. LOOPCONF_WITH_LIBEV=OFF LOOPCONF_WITH_LIBEVENT=OFF for a build
# with only the reference loop and libuv; LOOPCONF_BENCHMARKS=OFF drops Google Benchmark.
set -euo pipefail

on() { case "${1:-ON}" in ON|on|1|YES|yes|TRUE|true) return 0 ;; *) return 1 ;; esac; }

packages=(
  build-essential cmake ninja-build pkg-config git python3 clang-format   # toolchain, style check
  libcmocka-dev libjansson-dev                                 # runner, results files
  valgrind                                                     # deterministic mode, leak checks
  wrk gnuplot-nox                                              # HTTP load and plots
  node-llhttp python3-uvloop                                   # HTTP parser sources (issue 13), uvloop cross-check
  libxml2-utils perl bsdutils                                  # CI formats: xmllint, prove (issue 15); script
)
on "${LOOPCONF_WITH_LIBUV:-ON}" && packages+=(libuv1-dev)
on "${LOOPCONF_WITH_LIBEV:-ON}" && packages+=(libev-dev)
on "${LOOPCONF_WITH_LIBEVENT:-ON}" && packages+=(libevent-dev)
# GLib, sd-event, tevent default to AUTO in CMake (built when found): installed unless OFF.
[ "${LOOPCONF_WITH_GLIB:-AUTO}" != OFF ] && packages+=(libglib2.0-dev)
[ "${LOOPCONF_WITH_SDEVENT:-AUTO}" != OFF ] && packages+=(libsystemd-dev)
[ "${LOOPCONF_WITH_TEVENT:-AUTO}" != OFF ] && packages+=(libtevent-dev)
on "${LOOPCONF_BENCHMARKS:-ON}" && packages+=(libbenchmark-dev libbenchmark-tools python3-scipy) # scipy: compare.py of the tools (bench --gbench-dir test)
on "${LOOPCONF_BROWSER_TEST:-ON}" && packages+=(chromium cmark-gfm) # optional: the report's browser and markdown tests (issue 14)
on "${LOOPCONF_HTTP_FALLBACK:-OFF}" && packages+=(libhttp-parser-dev) # only to test the HTTP parser fallback

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root: apt-get update && $cmd" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
