#!/bin/sh
# lchttp_openloop_check.sh LOOPCONF_HTTP BUILD_DIR: the open-loop client and --reproduce.
#   1. coordinated omission is not hidden: the server is stopped (SIGSTOP) for STALL ms in the
#      middle of a constant-rate run; every request due during the stall must be charged for
#      it, so the p99 from the intended send time is at least half the stall, while the p99
#      from the actual send (what a closed-loop client would report) stays below that;
#   1b. the client's own lag: in that run, the sends the stopped server held back are late
#      (send lag) but not the client's fault (its own lag, from the moment each send became
#      possible, stays small), and its idle spinning is not counted as busy; when the client
#      itself is stopped instead, its own lag is at least half the p99 (a client-limited row);
#      every response is stamped by the kernel on arrival, so the responses that came while
#      the client was stopped (the server held them until then) show their wait to be read;
#      the p99 of the latencies less the client's share keeps the server's stall and loses
#      the client's;
#   2. --reproduce compares the new medians with the old file's repeat range (its spread,
#      the range of its runs' window percentiles (null for a window in which nothing was
#      due: skipped), or for runs without windows their min-max,
#      widened by the drift allowance the old file recorded): a set whose runs are 1-2 us but
#      whose windows are absurdly wide (1 us to 100 s) must come out inside (and outside the
#      plain min-max), one whose old runs, without windows, are 1-2 us (no
#      HTTP round trip is that fast, even widened by 10-40%) outside, except at p90 where the
#      old file's allowance is 1e7% (up to 200 s), and a client-limited one (100-200 s, so B
#      lies below it) not judged; the verdict, counts, ranges and the widening each set needed are recomputed
#      here from the raw runs, and reproduce.md must say all of it;
#   2b. a SCHED_FIFO open loop lifts the kernel's RT throttling for its runs and restores it
#      after; a --reproduce of a file that kept it keeps it;
#   3. --regenerate writes the charts, DIR/README.md and the --readme block from http.json alone.
# Timing: STALL is 400 ms times LOOPCONF_TIME_MULTIPLIER.
set -eu
http=$1
dir=$2
server=$(dirname "$http")/loopconf-http-server
mult=${LOOPCONF_TIME_MULTIPLIER:-1}
rm -rf "$dir"
mkdir -p "$dir"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
spid=
olpid=
cleanup() {
  if [ -n "$olpid" ]; then
    kill -CONT "$olpid" 2>/dev/null || true
    kill "$olpid" 2>/dev/null || true
  fi
  if [ -n "$spid" ]; then
    kill -CONT "$spid" 2>/dev/null || true
    kill "$spid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

# 1. a stall charged to every request it delayed
mkfifo "$dir/in"
"$server" runtime --backend reference <"$dir/in" >"$dir/port" 2>"$dir/server.log" &
spid=$!
exec 9>"$dir/in" # the server runs until this closes
i=0
while ! grep -q '^lchttp-port' "$dir/port" 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 100 ] || fail "the server did not report its port"
  sleep 0.1
done
port=$(awk '{ print $2 }' "$dir/port")
stall_ms=$(awk -v m="$mult" 'BEGIN { printf "%d", 400 * m }')
# stalled_run NAME WHO: a 3 s open loop into $dir/NAME.json, WHO ("server" or "client")
# stopped for STALL ms in the middle. The client is stopped with requests in flight: the
# server is stopped first, for 100 ms, and resumed once the client is stopped, so that the
# responses it held land in the stopped client's sockets.
stalled_run() {
  "$http" __openloop --port "$port" --rate 2000 --connections 8 --duration 3 --warmup 0.5 \
    >"$dir/$1.json" 2>"$dir/$1.log" &
  olpid=$!
  sleep 1.5
  if [ "$2" = client ]; then
    kill -STOP "$spid"
    sleep 0.1
    kill -STOP "$olpid"
    kill -CONT "$spid"
  else
    kill -STOP "$spid"
  fi
  sleep "$(awk -v s="$stall_ms" 'BEGIN { print s / 1000 }')"
  kill -CONT "$olpid" "$spid"
  wait "$olpid" || fail "the open-loop client failed: $(cat "$dir/$1.log")"
  olpid=
}
stalled_run ol server
# 1b. a stall of the client itself is the client's own lag (and so its row is client-limited)
stalled_run ol2 client
exec 9>&-
wait "$spid" || fail "the server did not exit cleanly"
spid=
python3 - "$dir/ol.json" "$dir/ol2.json" "$stall_ms" <<'EOF' || fail "stall checks (above)"
import json, sys
stall_us = float(sys.argv[3]) * 1000
runs = [json.load(open(f)) for f in sys.argv[1:3]]
for d in runs:
    if d["errors"] or d["measured"] < 1000:
        sys.exit(f"errors {d['errors']}, measured {d['measured']}")
    # every response's wait to be read is from the kernel's stamp of its arrival, and it and
    # the latency less the client's share cannot be negative
    if not d["rx_stamps"].startswith("kernel") or d["rx_stamped"] < 0.99 * d["measured"]:
        sys.exit(f"receive stamps: {d['rx_stamps']}, {d['rx_stamped']} of {d['measured']}")
    if d["read_delay_us"]["min"] < 0 or d["server_latency_us"]["min"] < 0:
        sys.exit(f"negative read delay ({d['read_delay_us']['min']} us) or latency less the "
                 f"client's share ({d['server_latency_us']['min']} us)")
# 1: the server stalled
d = runs[0]
lat, svc = d["latency_us"]["p99"], d["service_us"]["p99"]
print(f"stall {stall_us / 1000:.0f} ms: p99 from the due time {lat / 1000:.1f} ms, "
      f"from the actual send {svc / 1000:.1f} ms; achieved {d['achieved_rate']:.0f} req/s")
if lat < 0.5 * stall_us:
    sys.exit("the stall is not charged to the requests it delayed (coordinated omission)")
if svc >= 0.5 * stall_us:
    sys.exit("the p99 from the actual send also shows the stall: the two are not told apart")
# the sends the stall delayed waited for a response, not for the client: charged to the server
lag, own = d["send_lag_us"]["p99"], d["client_lag_us"]["p99"]
print(f"  send lag p99 {lag / 1000:.1f} ms, the client's own lag p99 {own / 1000:.1f} ms")
if lag < 0.5 * stall_us:
    sys.exit("the send lag does not show the sends the stalled server held back")
if own >= 0.25 * stall_us:
    sys.exit("the server's stall is charged to the client's own lag")
less = d["server_latency_us"]["p99"]
if less < 0.5 * lat:
    sys.exit(f"the p99 less the client's share ({less / 1000:.1f} ms) lost the server's stall")
# not at SCHED_FIFO, so the client spins before each send; spinning is not counted as busy
cpu, busy = d["client_cpu_cores"], d["client_busy_cores"]
print(f"  {d['client_wait']}: CPU {cpu:.2f} cores, busy {busy:.2f}")
if not d["client_wait"].startswith("spin"):
    sys.exit("the client did not spin")
if not 0 < busy < 0.5 * cpu:
    sys.exit("the client's idle spinning is counted as busy (or nothing is)")
# 1b: the client stalled
d = runs[1]
lat, own = d["latency_us"]["p99"], d["client_lag_us"]["p99"]
print(f"client stalled {stall_us / 1000:.0f} ms: p99 {lat / 1000:.1f} ms, the client's own lag "
      f"p99 {own / 1000:.1f} ms")
if own < 0.5 * lat:
    sys.exit("the client's own stall is not charged to the client's own lag")
# the responses the server released while the client was stopped waited in the socket for it:
# the kernel's stamps show that wait (a stamp taken at the read would not); without the
# client's share the p99 is the server's
rd, less = d["read_delay_us"]["max"], d["server_latency_us"]["p99"]
print(f"  longest wait to be read {rd / 1000:.1f} ms, p99 less the client's share "
      f"{less / 1000:.1f} ms")
if rd < 0.5 * stall_us:
    sys.exit("the responses that waited for the stopped client do not show their wait")
if less >= 0.5 * lat:
    sys.exit("the client's own stall stays in the p99 less its share")
EOF

# 2. --reproduce against a crafted earlier run: one set wide open, one impossibly tight
cat >"$dir/old.json" <<'EOF'
{"context": {"wrk_version": "crafted", "date": "then", "git_commit": "none",
             "open_loop_connections": 4, "open_loop_duration_s": 1, "open_loop_warmup_s": 0.2,
             "open_loop_realtime": false,
             "open_loop_drift_pct": {"p50": 10, "p90": 1e7, "p99": 30, "p99.9": 40}},
 "servers": [{"name": "runtime-reference", "open_loop": [
   {"load": 0.5, "target_rate": 500, "runs": [
     {"latency_us": {"p50": 1, "p90": 1, "p99": 1, "p99.9": 1},
      "latency_windows_us": {"windows": 2, "p50": [1, 1e8], "p90": [1, 1e8], "p99": [1, 1e8],
                             "p99.9": [1, 1e8]}},
     {"latency_us": {"p50": 2, "p90": 2, "p99": 2, "p99.9": 2},
      "latency_windows_us": {"windows": 2, "p50": [2, 3], "p90": [2, 3], "p99": [2, 3],
                             "p99.9": [2, 3]}}]},
   {"load": 0.8, "target_rate": 800, "runs": [
     {"latency_us": {"p50": 1, "p90": 1, "p99": 1, "p99.9": 1}},
     {"latency_us": {"p50": 2, "p90": 2, "p99": 2, "p99.9": 2}}]},
   {"load": 0.9, "target_rate": 900, "client_limited": true, "runs": [
     {"latency_us": {"p50": 1e8, "p90": 1e8, "p99": 1e8, "p99.9": 1e8},
      "latency_windows_us": {"windows": 3, "p50": [1e8, null, 1.5e8], "p90": [1e8, null, 1.5e8],
                             "p99": [1e8, null, 1.5e8], "p99.9": [1e8, null, 1.5e8]}},
     {"latency_us": {"p50": 2e8, "p90": 2e8, "p99": 2e8, "p99.9": 2e8}}]}]}]}
EOF
# Sets 0 and 1 must have measured the server in B to be judged; a host stall of ~100 ms in
# B's 1 s run leaves a set behind its rate (not judged, rightly), so such a run is retried, at
# most 3 times, rather than judged against expectations it cannot meet. With both cores fully
# busy (two CPU hogs), B's normal-priority client was preempted and rightly client-limited in
# every try (its own share 5-6 ms of a p99 of 8 ms): this part checks the judging, not how a
# client fares against hogs, so B runs at nice -10 where that is permitted (the old file's
# normal priority, not SCHED_FIFO, is still what it asks for and what is checked below).
prio=
[ "$(nice -n -10 nice 2>/dev/null)" -lt "$(nice)" ] 2>/dev/null && prio="nice -n -10"
try=1
while :; do
  $prio "$http" --reproduce "$dir/old.json" --out "$dir/repro" -q ||
    fail "--reproduce exited $?"
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["servers"][0]["compared"]
sys.exit(0 if c[0]["judged"] and c[1]["judged"] else 1)' "$dir/repro/reproduce.json" && break
  [ $try -lt 3 ] || fail "B fell behind its rate or measured the client in $try runs"
  echo "note: B's run of a set fell behind its rate (a host stall?); again" >&2
  try=$((try + 1))
done
python3 - "$dir/repro/reproduce.json" "$dir/old.json" <<'EOF' || fail "--reproduce check (above)"
import json, sys
d = json.load(open(sys.argv[1]))
(s,) = d["servers"]
c = s["compared"]
wide, tight = c[0]["inside"], c[1]["inside"]
# the tight set's p90 is inside only thanks to A's huge p90 allowance (1-2 us widened 1e5-fold)
want = {"p50": False, "p90": True, "p99": False, "p99.9": False}
if not all(wide.values()) or tight != want:
    sys.exit(f"inside flags wrong: wide {wide}, tight {tight}, want {want}")
if any(c[1]["inside_minmax"].values()) or any(c[0]["inside_minmax"].values()):
    sys.exit(f"inside_minmax flags wrong: {c[0]['inside_minmax']}, {c[1]['inside_minmax']}")
if [x["judged"] for x in c] != [True, True, False] or "client" not in c[2]["not_judged"]:
    sys.exit(f"judged flags wrong: {[(x['judged'], x.get('not_judged')) for x in c]}")
if d["inside_count"]["p50"] != [1, 2] or d["sets"] != 3 or d["judged_sets"] != 2:
    sys.exit(f"inside_count {d['inside_count']}, sets {d['sets']}, judged {d['judged_sets']}")
if d["reproduced"] is not False or d["drift_from"] != "the allowance A recorded":
    sys.exit(f"reproduced {d['reproduced']}, drift from {d['drift_from']}")
# recompute every judged cell from the raw runs with the old file's allowance
old = json.load(open(sys.argv[2]))
allow = old["context"]["open_loop_drift_pct"]
new_sets = s["open_loop"]
need = {}
for k, (a, x) in enumerate(zip(old["servers"][0]["open_loop"], c)):
    for q, pct in allow.items():
        # A's spread: its windows where its runs have them, else its runs
        av = sorted(v for r in a["runs"] for v in
                    (r["latency_windows_us"][q] if "latency_windows_us" in r else [r["latency_us"][q]])
                    if v is not None)
        bv = sorted(r["latency_us"][q] for r in new_sets[k]["runs"])
        m = (bv[0] + bv[1]) / 2 if len(bv) == 2 else bv[len(bv) // 2]
        lo, hi = av[0] / (1 + pct / 100), av[-1] * (1 + pct / 100)
        if x["inside"][q] != (lo <= m <= hi):
            sys.exit(f"set {k} {q}: median {m} against [{lo}, {hi}] judged {x['inside'][q]}")
        w = av[0] / m - 1 if m < av[0] else m / av[-1] - 1 if m > av[-1] else 0
        if abs(x["widening_needed_pct"][q] - 100 * w) > 1e-6 * max(1, 100 * w):
            sys.exit(f"set {k} {q}: widening {x['widening_needed_pct'][q]}, want {100 * w}")
        if x["judged"]:
            need[q] = max(need.get(q, 0), 100 * w)
for q, v in need.items():
    if abs(d["widening_needed_pct"][q] - v) > 1e-6 * max(1, v):
        sys.exit(f"widening_needed_pct {q} {d['widening_needed_pct'][q]}, want {v}")
# B's own summary carries its repeat range with the same allowance, from its windows
sm = new_sets[0]["latency_summary_us"]["p99"]  # A's p99 allowance: 30%
wl = [v for r in new_sets[0]["runs"] for v in r["latency_windows_us"]["p99"]]
if sm["window_min"] != min(wl) or sm["window_max"] != max(wl):
    sys.exit(f"B's p99 window range {sm} is not the range of its runs' windows {wl}")
if abs(sm["repeat_lo"] * 1.3 - min(wl)) > 1e-6 * min(wl) or abs(sm["repeat_hi"] - 1.3 * max(wl)) > 1e-6 * max(wl):
    sys.exit(f"B's p99 repeat range {sm} is not its window range widened by 30%")
# every run's percentile lies between its windows' (a quantile of a mixture lies between the
# quantiles of its parts), and each run has its 10 windows
for r in new_sets[0]["runs"] + new_sets[1]["runs"]:
    wn = r["latency_windows_us"]
    if wn["windows"] != 10 or len(wn["p50"]) != 10 or None in wn["p50"]:
        sys.exit(f"a run has {wn['windows']} windows, {len(wn['p50'])} entries, "
                 f"{wn['p50'].count(None)} empty: want 10 with requests")
    for q in ("p50", "p90", "p99", "p99.9"):
        if not min(wn[q]) <= r["latency_us"][q] <= max(wn[q]):
            sys.exit(f"run {q} {r['latency_us'][q]} outside its windows {wn[q]}")
lo, hi = d["new_over_old_median"]["p50"]
if not 0 < lo <= hi:
    sys.exit(f"new_over_old_median {d['new_over_old_median']}")
runs = s["open_loop"][0]["runs"]
if [r["round"] for r in runs] != [1, 2] or d["context"]["open_loop_repeat"] != 2:
    sys.exit("not two rounds as in the old file")
if any(r.get("host_steal_ms", -1) < 0 for r in runs) or "host_steal_ms_max" not in s["open_loop"][0]:
    sys.exit("a run lacks the hypervisor's steal over it (host_steal_ms from /proc/stat)")
if d["context"]["open_loop_idle_poll"] is not False or runs[0]["idle_cpus"] != "halting (not asked)":
    sys.exit("the old file's halting idle CPUs (it predates idle polling) were not kept: "
             f"{d['context']['open_loop_idle_poll']}, {runs[0]['idle_cpus']}")
if runs[0]["server_sched"] != "other (realtime off)":
    sys.exit("the old file's normal priority was not kept: " + runs[0]["server_sched"])
m = s["open_loop"][0]["latency_summary_us"]["p50"]
if not (m["min"] <= m["median"] <= m["max"]):
    sys.exit(f"summary out of order: {m}")
print("reproduce: wide set inside, tight set outside")
EOF
grep -q 'NOT reproduced.*p50 1, p90 2, p99 1 and p99.9 1 of the 2 judged sets' "$dir/repro/reproduce.md" ||
  fail "reproduce.md lacks the verdict and counts"
grep -q '| runtime-reference | 90% | 900 |.* - |.*measured the client' "$dir/repro/reproduce.md" ||
  fail "reproduce.md does not mark the client-limited set as not judged"
grep -q '\*\*no\*\*' "$dir/repro/reproduce.md" || fail "reproduce.md does not mark the miss"
# 2b. the kernel's RT throttling: a SCHED_FIFO open loop lifts it (sched_rt_runtime_us -1)
# for its runs and puts the old value back; a reproduction keeps it on when A had it on
rt=/proc/sys/kernel/sched_rt_runtime_us
before=$(cat "$rt")
for mode in lifted kept; do
  python3 - "$dir/old.json" "$dir/rt-$mode.json" "$mode" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["context"]
c["open_loop_realtime"] = True
if sys.argv[3] == "lifted":
    c["open_loop_rt_throttle"] = "lifted (crafted)"
sets = d["servers"][0]["open_loop"]
sets[0]["runs"] = sets[0]["runs"][:1]
d["servers"][0]["open_loop"] = sets[:1]
json.dump(d, open(sys.argv[2], "w"))
EOF
  "$http" --reproduce "$dir/rt-$mode.json" --out "$dir/rt-$mode" -q &
  rpid=$!
  seen=
  while kill -0 "$rpid" 2>/dev/null; do
    [ "$(cat "$rt")" = -1 ] && seen=1
    sleep 0.05
  done
  wait "$rpid" || fail "--reproduce of rt-$mode.json exited $?"
  after=$(cat "$rt")
  [ "$after" = "$before" ] || fail "sched_rt_runtime_us is $after after the open loop, $before before"
  got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["context"]["open_loop_rt_throttle"])' \
    "$dir/rt-$mode/reproduce.json")
  echo "rt throttling, A $mode: $got (sched_rt_runtime_us $before before and after)"
  if [ "$before" = -1 ]; then
    continue # already off on this machine: nothing to lift or keep
  elif [ $mode = kept ]; then
    [ "$got" = "kept (as in the file reproduced)" ] && [ -z "$seen" ] ||
      fail "A kept RT throttling but B did not (${seen:+lifted; }$got)"
  elif (echo "$before" >"$rt") 2>/dev/null; then # writable: the same value written back
    case $got in lifted*) ;; *) fail "RT throttling was not lifted: $got" ;; esac
    [ -n "$seen" ] || fail "sched_rt_runtime_us was never -1 during the runs"
  else
    case $got in "kept (sched_rt_runtime_us $before; -1 refused: "*) ;;
    *) fail "an unwritable $rt is not reported as refused: $got" ;; esac
  fi
done
# 3. --regenerate: charts and both READMEs from an http.json alone (no server runs)
mkdir -p "$dir/regen/results"
python3 - "$dir/old.json" "$dir/regen/results/http.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["context"].update({"connection_levels": [16], "duration_s": 1, "repeat": 1, "load1_start": 0.5,
                     "load1_end": 0.7, "num_cpus": 2})
s = d["servers"][0]
s["cells"] = [{"connections": 16, "rps_median": 1234.0, "rps_min": 1200.0, "rps_max": 1300.0,
               "spread": 0.08, "failed": False,
               "runs": [{"latency_us": {"p50": 10, "p90": 20, "p99": 30, "p99.9": 40}}]}]
json.dump(d, open(sys.argv[2], "w"))
EOF
printf 'ZZ hand-written note\n' >"$dir/regen/results/NOTES.md"
printf '# top\n<!-- http-table:begin -->\nstale\n<!-- http-table:end -->\nafter\n' >"$dir/regen/README.md"
"$http" --regenerate --out "$dir/regen/results" --readme "$dir/regen/README.md" -q ||
  fail "--regenerate exited $?"
for f in http-rps.png http-rps.svg http-openloop.png http-latency.svg README.md; do
  [ -s "$dir/regen/results/$f" ] || fail "--regenerate did not write $f"
done
[ "$(tail -1 "$dir/regen/results/README.md")" = "ZZ hand-written note" ] ||
  fail "DIR/NOTES.md is not at the end of DIR/README.md"
grep -q '^| runtime-reference | 1234 (1.00) |$' "$dir/regen/README.md" ||
  fail "the README block lacks the requests/s row"
grep -q '(results/http-rps.png)' "$dir/regen/README.md" ||
  fail "the chart path is not relative to the README"
grep -q '^| runtime-reference | 50% | 500 | ' "$dir/regen/README.md" ||
  fail "the README block lacks the open-loop row"
if grep -q stale "$dir/regen/README.md"; then fail "the old block was not replaced"; fi
[ "$(head -1 "$dir/regen/README.md")" = "# top" ] && [ "$(tail -1 "$dir/regen/README.md")" = after ] ||
  fail "text outside the block changed"

echo "ok: open-loop stall charged from the due time; --reproduce compares with the old spread"
