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
expect2 "unwritable --out" "--out" "$http" --out /proc/nope/dir
rm -rf "$empty"
[ "$fail" -eq 0 ] && echo "ok: usage errors exit 2 with one line"
exit "$fail"
