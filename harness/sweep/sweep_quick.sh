#!/bin/sh
# sweep_quick.sh LOOPCONF DIR: the quick sweep must give every model that can run here a figure
# for every workload it applies to, list the others as absent with a reason, and draw every
# chart (a PNG with a valid signature and a non-empty SVG) and the claims table. Nothing about
# speed is checked: the figures are data.
set -eu
exe=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
"$exe" sweep --quick --out "$dir/quick.json" --plot "$dir" -q
python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "quick.json")))
bad = []
runnable = [m["name"] for m in doc["models"] if m["status"] == "ok"]
for m in doc["models"]:
    if m["status"] == "absent" and not m.get("reason"):
        bad.append("model %s absent without a reason" % m["name"])
exec_only = {"thread-executor": {"cpu", "block"}, "process-executor": {"cpu", "block"}}
need = {"sleep": "wall_s", "io": "wall_s", "cpu": "wall_s", "switch": "switch_s",
        "spawn": "create_s", "block": "lag_max_s"}
for m in runnable:
    for w, key in need.items():
        if m in exec_only and w not in exec_only[m]:
            continue
        cells = [c for c in doc["cells"] if c["model"] == m and c["workload"] == w]
        ok = [c for c in cells if c["status"] == "ok" and key in c.get("stats", {})]
        if not ok:
            errs = "; ".join(c.get("error", c["status"]) for c in cells)
            bad.append("%s/%s: no figure (%s)" % (w, m, errs or "no cell"))
# each task model ran in the stack mode its name says (task-copy: LC_STACK_COPY)
for c in doc["cells"]:
    if c["model"].startswith("task") and c["status"] == "ok":
        want = "copy" if c["model"].startswith("task-copy:") else "dedicated"
        got = {r.get("stack_mode") for r in c.get("reps", [])}
        if got != {want}:
            bad.append("%s/%s: stack mode %s, expected %s" % (c["workload"], c["model"], sorted(map(str, got)), want))
if not any(m.startswith("task:") for m in runnable):
    bad.append("no task model ran")
for k in ("cpu_model", "kernel", "compiler", "git_commit", "python", "uvloop"):
    if k not in doc["context"]:
        bad.append("context lacks " + k)
charts = ["wall_sleep", "wall_io", "wall_cpu", "wall_spawn", "memory_per_unit",
          "creation_per_unit", "ctx_switches", "block_lag", "switch_cost"]
for c in charts:
    png = os.path.join(d, c + ".png")
    svg = os.path.join(d, c + ".svg")
    if not os.path.exists(png) or open(png, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
        bad.append(png + ": not a PNG")
    if not os.path.exists(svg) or os.path.getsize(svg) == 0 or b"<svg" not in open(svg, "rb").read():
        bad.append(svg + ": empty or not an SVG")
claims = open(os.path.join(d, "claims.md")).read()
for needle in ("8 MB", "25-100 MB", "1-10 us", "10-100 us", "100-500 ms", "max, not sum",
               "uvloop", "blocking call"):
    if needle not in claims:
        bad.append("claims.md lacks the claim '%s'" % needle)
csv = os.path.join(d, "quick.csv")
if not os.path.exists(csv) or len(open(csv).read().splitlines()) != len(doc["cells"]) + 1:
    bad.append("quick.csv does not have one row per cell")
for b in bad:
    print("sweep.quick: " + b)
sys.exit(1 if bad else 0)
PY

# --big-budget: a cell at N >= 100000 is repeated up to --big-repetitions times only while its
# runs stay within the budget (cpu on tasks at N=100000 takes well under a second)
for budget in 0 600 0.000001; do
  "$exe" sweep --workload cpu --model task:reference --n 100000 --repetitions 5 \
    --big-repetitions 3 --big-budget "$budget" --out "$dir/budget.json" -q
  python3 - "$dir/budget.json" "$budget" <<'PY'
import json, sys
doc, budget = json.load(open(sys.argv[1])), float(sys.argv[2])
(c,) = doc["cells"]
want, cut = (1, True) if 0 < budget < 0.001 else (3, None)
got = (len(c["reps"]), c.get("reps_cut_by_budget"))
if got != (want, cut) or doc["config"]["big_budget_s"] != budget:
    sys.exit("sweep.quick: --big-budget %s: %s runs, cut %s (expected %s, %s)" % (budget, got[0], got[1], want, cut))
if not all(r["elapsed_s"] > 0 for r in c["reps"]):
    sys.exit("sweep.quick: a run without its elapsed_s")
PY
done
