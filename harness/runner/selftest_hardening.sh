#!/usr/bin/env bash
# selftest_hardening.sh: the runner contains its cells and stays safe on a terminal (issue 15).
#
# usage: selftest_hardening.sh LOOPCONF BACKEND [SOURCE_DIR]
#   - a grandchild that left the cell's session (setsid) does not outlive the run;
#   - --tap and --junit naming one file, an empty --backend/--test: exit 2 before any cell;
#   - an ignored SIGHUP (nohup) stays ignored: the run finishes and reports;
#   - SIGQUIT kills the cells, exits 131 and leaves no temporary files;
#   - a cell flooding its channel with escapes and invalid UTF-8: the text report stays small,
#     valid UTF-8 and free of control characters;
#   - --unexpected, --color always/never/auto with NO_COLOR on a terminal;
#   - with SOURCE_DIR and cc: an adapter whose version() holds escapes and invalid UTF-8 is
#     shown cleaned by `list backends` and `run`.
set -u
LC=$1
B=$2
SRC=${3:-}
# Waits below scale with the slow-machine multiplier; the runs themselves use 1.
MULT=${LOOPCONF_TIME_MULTIPLIER:-1}
WAIT_STEPS=$(python3 -c "import math; print(math.ceil(100 * float('$MULT')))")
REFUSE_S=$(python3 -c "import math; print(math.ceil(3 * float('$MULT')))")
unset LOOPCONF_TIME_MULTIPLIER NO_COLOR
T=$(mktemp -d "${TMPDIR:-/tmp}/loopconf-hard.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
  echo "selftest_hardening.sh: FAIL: $*" >&2
  failures=$((failures + 1))
}
# A private copy of the backend, so pgrep finds only this script's cells.
mod=$("$LC" list backends | awk -v b="$B" '$1 == b { print $NF }')
cp "$mod" "$T/hard_$B.so" || { echo "selftest_hardening.sh: cannot copy $mod" >&2; exit 2; }
M=$T/hard_$B.so
cells_alive() { pgrep -f "__cell $M" >/dev/null; }
wait_cell() { for _ in $(seq "$WAIT_STEPS"); do cells_alive && return 0; sleep 0.05; done; return 1; }

# ---- a setsid grandchild is killed ----
LOOPCONF_SELFTEST_ORPHAN_FILE=$T/orphan.pid "$LC" run -q --backend "$M" --test selftest.orphan \
  >"$T/orphan.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "selftest.orphan: exit $rc: $(tail -3 "$T/orphan.out")"
opid=$(cat "$T/orphan.pid" 2>/dev/null)
if [ -z "$opid" ]; then
  fail "selftest.orphan did not record its grandchild"
else
  sleep 0.2
  if kill -0 "$opid" 2>/dev/null; then
    fail "the setsid grandchild $opid outlived the run"
    kill -9 "$opid" 2>/dev/null
  fi
fi

# ---- bad input, refused before any cell runs ----
bad() { # NAME REGEX ARGS...
  local name=$1 re=$2
  shift 2
  local t0=$SECONDS
  "$LC" "$@" >"$T/bad.out" 2>"$T/bad.err"
  local rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l <"$T/bad.err")" -eq 1 ] && grep -qE -- "$re" "$T/bad.err" ||
    fail "$name: exit $rc, stderr: $(cat "$T/bad.err")"
  [ $((SECONDS - t0)) -lt "$REFUSE_S" ] || fail "$name: refused only after the run"
}
bad same-file "same file" run --backend "$M" --test selftest.hang --repeat 20 --tap "$T/r" --junit "$T/./r"
bad same-file-abs "same file" run --backend "$M" --test selftest.hang --repeat 20 --tap "$T/r" --junit "$T/../$(basename "$T")/r"
bad empty-backend "empty name" run --backend , --test selftest.pass
bad empty-test "empty pattern" run --backend "$M" --test ' '
bad bad-color "--color must be" run --backend "$M" --test selftest.pass --color sometimes
[ -e "$T/r" ] && fail "a refused run wrote its report"

# ---- nohup: an ignored SIGHUP stays ignored ----
(trap '' HUP; exec "$LC" run --backend "$M" --test selftest.hang --repeat 4 -q >"$T/hup.out" 2>"$T/hup.err") &
pid=$!
wait_cell || fail "nohup: no cell started"
kill -HUP "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ $rc -eq 1 ] && tail -1 "$T/hup.out" | grep -q "^conformance: 0 passed, 1 failed" ||
  fail "nohup: an ignored SIGHUP interrupted the run (exit $rc): $(cat "$T/hup.err")"

# ---- SIGQUIT: cells killed, exit 128+3, no temporary files ----
mkdir "$T/tmp" "$T/out"
TMPDIR=$T/tmp "$LC" run --backend "$M" --test selftest.hang --repeat 20 -q \
  --tap "$T/out/q.tap" --junit "$T/out/q.xml" >"$T/quit.out" 2>"$T/quit.err" &
pid=$!
wait_cell || fail "quit: no cell started"
kill -QUIT "$pid"
wait "$pid"
rc=$?
[ $rc -eq 131 ] || fail "quit: exit $rc, want 131"
sleep 0.2
cells_alive && fail "quit: a cell outlived the runner"
left=$(find "$T/tmp" "$T/out" -mindepth 1)
[ -z "$left" ] || fail "quit: files left behind: $left"

# ---- a flooding cell: bounded, clean text ----
"$LC" run --backend "$M" --test selftest.noisy >"$T/noisy.out" 2>/dev/null
size=$(wc -c <"$T/noisy.out")
[ "$size" -lt 20000 ] || fail "noisy: the text report is $size bytes"
grep -q "selftest.noisy FAIL: .*more bytes not shown" "$T/noisy.out" || fail "noisy: the reason is not cut"
grep -q "more notes not shown" "$T/noisy.out" || fail "noisy: the notes are not bounded"
python3 - "$T/noisy.out" <<'EOF2' || fail "noisy: raw control bytes or invalid UTF-8 in the report"
import sys
d = open(sys.argv[1], "rb").read()
d.decode("utf-8")
bad = [b for b in d if (b < 32 and b not in (9, 10)) or b == 127]
assert not bad, bad[:10]
EOF2
awk 'length($0) > 100 && /^(TEST|selftest)/ { exit 1 }' "$T/noisy.out" || fail "noisy: a matrix row is wider than 100 columns"

# ---- views and colour ----
"$LC" run --backend "$M" --test selftest.pass,selftest.fail.message --unexpected >"$T/u.out" 2>/dev/null
grep -q "^selftest.fail.message" "$T/u.out" && ! grep -q "^selftest.pass" "$T/u.out" ||
  fail "--unexpected: $(cat "$T/u.out")"
"$LC" run --backend "$M" --test selftest.pass --clauses >"$T/c.out" 2>/dev/null
grep -q "CLAUSES" "$T/c.out" || fail "--clauses: no clause column"
"$LC" run --backend "$M" --test selftest.pass >"$T/nc.out" 2>/dev/null
grep -q "CLAUSES" "$T/nc.out" && fail "the clause column is shown without --clauses"
"$LC" run --backend "$M" --test selftest.pass --color always >"$T/col.out" 2>/dev/null
grep -q $'\033\\[32mPASS' "$T/col.out" || fail "--color always: no colour"
if command -v script >/dev/null; then
  script -qec "'$LC' run --backend '$M' --test selftest.pass" /dev/null >"$T/tty.out" 2>&1
  grep -q $'\033\\[32mPASS' "$T/tty.out" || fail "a terminal: no colour"
  NO_COLOR=1 script -qec "'$LC' run --backend '$M' --test selftest.pass" /dev/null >"$T/tty2.out" 2>&1
  grep -q $'\033\\[32m' "$T/tty2.out" && fail "NO_COLOR=1 on a terminal: colour anyway"
  script -qec "'$LC' run --backend '$M' --test selftest.pass --color never" /dev/null >"$T/tty3.out" 2>&1
  grep -q $'\033\\[32m' "$T/tty3.out" && fail "--color never on a terminal: colour anyway"
fi
"$LC" run --backend "$M" --test selftest.pass >"$T/pipe.out" 2>/dev/null
grep -q $'\033' "$T/pipe.out" && fail "colour into a pipe"

# ---- a backend's version() is untrusted text ----
if [ -n "$SRC" ] && command -v cc >/dev/null; then
  sed 's|return "example-poll 1.0";|return "evil 1.0 \\033[2J\\033]0;pwned\\007 \\377\\001 end";|' \
    "$SRC/adapters/example/example_poll.c" >"$T/evil.c"
  grep -q pwned "$T/evil.c" || fail "could not make the evil adapter"
  if cc -std=c11 -shared -fPIC -fvisibility=hidden -I"$SRC/include" "$T/evil.c" -o "$T/evil.so"; then
    "$LC" run --backend "$T/evil.so" --test loop.timer.order >"$T/evil.out" 2>&1
    mkdir "$T/bdir" && cp "$T/evil.so" "$T/bdir/lcb_evil.so"
    LOOPCONF_BACKEND_DIR=$T/bdir "$LC" list backends >>"$T/evil.out" 2>&1
    [ "$(grep -c "evil 1.0 .*pwned.* end" "$T/evil.out")" -ge 3 ] ||
      fail "evil: the version is not in the legend, the summary and the listing: $(cat "$T/evil.out")"
    grep -q "evil 1.0 .*pwned.* end" "$T/evil.out" || fail "evil: the version is not shown: $(head -5 "$T/evil.out")"
    python3 - "$T/evil.out" <<'EOF2' || fail "evil: raw control bytes or invalid UTF-8 from version()"
import sys
d = open(sys.argv[1], "rb").read()
d.decode("utf-8")
assert not [b for b in d if (b < 32 and b not in (9, 10)) or b == 127]
EOF2
  else
    fail "could not compile the evil adapter"
  fi
fi

if [ $failures -ne 0 ]; then
  echo "selftest_hardening.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "selftest_hardening.sh: all checks passed"
