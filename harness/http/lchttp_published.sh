#!/bin/sh
# lchttp_published.sh LOOPCONF_HTTP SOURCE_DIR TMP: the published HTTP results are what their
# data says. `loopconf http --regenerate --readme` on a copy of results/http and README.md
# must give back, byte for byte, the committed results/http/README.md, its .dat files and the
# README's HTTP block; a hand edit of either, or data changed without regenerating, fails.
set -eu
http=$1
src=$2
tmp=$3
[ -f "$src/results/http/http.json" ] || {
  echo "lchttp_published: no results/http/http.json"
  exit 1
}
rm -rf "$tmp"
mkdir -p "$tmp/results"
cp -r "$src/results/http" "$tmp/results/http"
cp "$src/README.md" "$tmp/README.md"
"$http" --regenerate --out "$tmp/results/http" --readme "$tmp/README.md" -q
fail=0
for f in README.md results/http/README.md results/http/http-rps.dat results/http/http-openloop.dat; do
  if ! cmp -s "$src/$f" "$tmp/$f"; then
    echo "FAIL: $f is not what loopconf http --regenerate writes from results/http/http.json:"
    diff "$src/$f" "$tmp/$f" | head -20
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "ok: results/http and the README's HTTP block match http.json"
exit "$fail"
