#!/usr/bin/env bash
# install-deps.sh: make sure every Debian package loopconf needs is installed.
# As root it installs what is missing with non-interactive apt-get; otherwise it prints the
# exact command to run and exits 1. Nothing is downloaded from anywhere but the Debian archive.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git python3   # toolchain
  libuv1-dev libev-dev libevent-dev                            # the three libraries
  libglib2.0-dev libsystemd-dev libtevent-dev                  # GLib, sd-event, tevent backends
  libcmocka-dev                                                # conformance runner
  libbenchmark-dev libbenchmark-tools                          # benchmarks, compare.py
  valgrind                                                     # deterministic mode, leak checks
  wrk gnuplot-nox                                              # HTTP load and plots (later work)
)

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
