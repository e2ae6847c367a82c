#!/usr/bin/env bash
# mutant_check.sh: the loop tier's verdict power, as a test. For each fault of the mutant
# backend (harness/mutant/mutant.c) wrapped around one correct backend, run the loop tests
# that should catch it and require (1) an unexpected verdict, (2) whose reason names the fault
# (a pattern per fault, below), (3) and no TIMEOUT: every guard must end its own run. The
# control ("none": every operation wrapped, none changed) must pass the whole loop tier.
#
# usage: mutant_check.sh LOOPCONF MUTANT_SO BACKEND_SO EXPECT_FILE [FAULT...]
#   EXPECT_FILE  the wrapped backend's expectations (its XFAILs stay expected, its pinned
#                characteristics apply); FAULTs default to all of them.
# exit 0 when the control is clean and every fault is detected; 1 otherwise; 2 bad usage.
set -u

if [ $# -lt 4 ]; then
  echo "usage: $0 LOOPCONF MUTANT_SO BACKEND_SO EXPECT_FILE [FAULT...]" >&2
  exit 2
fi
loopconf=$1 mutant=$2 backend=$3 expect=$4
shift 4
for f in "$loopconf" "$mutant" "$backend" "$expect"; do
  if [ ! -e "$f" ]; then
    echo "$0: $f does not exist" >&2
    exit 2
  fi
done

# fault -> tests that should catch it, and a pattern the reason must contain.
declare -A tests=(
  [early-timer]='loop.timer.never_early'
  [lost-wakeup]='loop.wakeup.after_last_send'
  [ignore-stop]='loop.run.stop_from_callback,loop.run.stop_before_run,loop.wakeup.after_last_send,loop.io.readiness'
  [ignore-timer-stop]='loop.timer.stop_*,loop.timer.no_drift,loop.run.returns_when_idle,loop.run.stop_before_run'
  [duplicate-io]='loop.io.*'
  [starve-io]='loop.io.*'
  [nowait-blocks]='loop.run.nowait_cost,loop.run.nowait'
  [drift]='loop.timer.no_drift'
  [backwards-now]='loop.time.*'
  [reverse-equal]='loop.timer.equal_deadline_order'
)
declare -A pattern=(
  [early-timer]='fired early'
  [lost-wakeup]='lost wakeup'
  [ignore-stop]='stop\(\) .*(ignored|lost)'
  [ignore-timer-stop]='timer_stop\(\)'
  [duplicate-io]='io callbacks duplicated'
  [starve-io]='io watchers starved'
  [nowait-blocks]='run\(NOWAIT\) blocks'
  [drift]='repeating timer drifts'
  [backwards-now]='now\(\) went backwards'
  [reverse-equal]='characteristic equal-deadline-order changed'
)
all='early-timer lost-wakeup ignore-stop ignore-timer-stop duplicate-io starve-io nowait-blocks drift backwards-now reverse-equal'
faults=${*:-$all}

export LOOPCONF_MUTANT_OF=$backend
run() { # fault tests [jobs] -> output in $out, status in $rc
  out=$(LOOPCONF_MUTANT=$1 "$loopconf" run -q --jobs "${3:-2}" --backend "$mutant" \
        --expect "mutant=$expect" --test "$2" 2>&1)
  rc=$?
}

status=0
run none 'loop.*' 1 # one cell at a time: the control's timing verdicts must not flake
if [ $rc -ne 0 ]; then
  echo "FAIL control: the unperturbed mutant is not clean (exit $rc):"
  echo "$out" | sed -n '/^reasons/,/^summary/p'
  status=1
else
  echo "ok   control: $(echo "$out" | grep '^conformance:')"
fi

for f in $faults; do
  if [ -z "${tests[$f]:-}" ]; then
    echo "$0: unknown fault '$f' (known: $all)" >&2
    exit 2
  fi
  run "$f" "${tests[$f]}"
  # Reason lines of unexpected verdicts: "  mutant <test> <VERDICT>: <reason>".
  bad=$(echo "$out" | grep -E '^  mutant [^ ]+ (FAIL|XPASS|TIMEOUT|CRASH|FLAKY): ')
  hit=$(echo "$bad" | grep -E -m1 "${pattern[$f]}")
  timeouts=$(echo "$bad" | grep -E '^  mutant [^ ]+ TIMEOUT: ')
  if [ $rc -ne 1 ] || [ -z "$hit" ]; then
    echo "FAIL $f: not detected by a verdict matching /${pattern[$f]}/ (exit $rc); verdicts:"
    echo "${bad:-  (none unexpected)}"
    status=1
  elif [ -n "$timeouts" ]; then
    echo "FAIL $f: detected, but a guard depended on the fault (TIMEOUT instead of FAIL):"
    echo "$timeouts"
    status=1
  else
    echo "ok   $f: $(echo "$hit" | sed 's/^  mutant //' | cut -c1-240)"
  fi
done
exit $status
