#!/usr/bin/env python3
"""table_check.py: table.py's paired verdicts on a synthetic schema 2 file with known answers.

Five backends over 12 rounds, each round scaled by a drift factor common to all of them (what
interleaving is for): "fast" is the fastest; "slow" takes 2x its time every round (rank 5:
every other backend is decidedly ahead of it); "same" is within +-1% of fast (a tie, rank 1);
"near" is 1.03-1.05x of fast in every round: significantly slower, yet within the 10%
equivalence margin, so a tie (rank 1, no '?'; under a "interval excludes 1.0" rule it would be
behind); "wild" is 0.6x-1.6x of fast (too noisy against fast: '?', with rounds to decide, yet
ahead of slow). With --margin 1 --drift 0 "near" is behind fast and same instead (rank 3); with
--margin 1 and the 5% drift allowance it is too noisy to rank. A file whose "rankings" say a
pair is too noisy is rendered as the file says. Also the floor share, --agree of the file with
itself (all agree), with a copy where "near" is 1.12x (fast/near: a decided tie against a
flagged "ahead": DIFFER, flagged by one) and 1.3x (a decided "ahead": CONTRADICT), and schema
1 (results/baseline before rounds) still reading.
usage: table_check.py TABLE_PY WORKDIR
"""
import json
import os
import subprocess
import sys

table, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
drift = [1.0, 1.9, 0.7, 1.3, 2.5, 0.9, 1.1, 3.0, 0.8, 1.6, 1.2, 2.2]  # wild machine weather
same = [1.00, 1.01, 0.99, 1.005, 0.995, 1.0, 1.01, 0.99, 1.0, 1.005, 0.995, 1.0]
wild = [0.6, 1.6, 0.9, 1.3, 1.05, 0.7, 1.5, 1.1, 0.8, 1.4, 1.0, 1.2]
near = [1.03, 1.05, 1.04, 1.035, 1.045, 1.04, 1.03, 1.05, 1.04, 1.035, 1.045, 1.04]
def synthetic(near_factor, name):
    entries = []
    for r, d in enumerate(drift):
        t = 1000.0 * d
        for be, v in (("fast", t), ("slow", 2 * t), ("same", same[r] * t), ("wild", wild[r] * t),
                      ("near", near[r] * near_factor * t)):
            entries.append({"name": "loop.pingpong/pairs:1", "run_type": "iteration",
                            "backend": be, "round": r, "real_time": v, "time_unit": "ns",
                            "iterations": 10})
        entries.append({"name": "floor.pingpong/pairs:1", "run_type": "iteration",
                        "backend": "none", "round": r, "real_time": 0.8 * t, "time_unit": "ns",
                        "iterations": 10})
    doc = {"schema": "loopconf-bench/2",
           "context": {"mode": "time", "bench_rounds": 12, "bench_round_seed": 1,
                       "bench_backend_order": ["fast", "slow", "same", "wild", "near", "none"]},
           "benchmarks": entries}
    path = os.path.join(work, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return doc, path
doc, path = synthetic(1.0, "synthetic.json")
def table_row(path, *extra):
    out = subprocess.run([sys.executable, table, path, *extra], capture_output=True, text=True,
                         check=True).stdout
    row = next(line for line in out.splitlines() if line.startswith("| loop.pingpong/pairs:1 |"))
    return out, [c.strip() for c in row.strip("|").split("|")]
out, cells = table_row(path)
fails = []
def want(cond, what):
    if not cond:
        fails.append(what)
want(cells[1] == "12", f"rounds column: {cells[1]}")
want(cells[2].startswith("1:") and "(fastest)" in cells[2], f"fast: {cells[2]}")
# slow: 2x fast every round despite the drift; fast, same, near and even wild (0.3-0.8x of
# slow, its 95% interval [0.4, 0.7]) are all decidedly ahead of it: rank 5.
want(cells[3].startswith("5:") and "2.00x [2.00, 2.00]" in cells[3] and "?" not in cells[3],
     f"slow: {cells[3]}")
want(cells[6].startswith("1:") and "?" not in cells[6] and "1.04x [1.03, 1.04]" in cells[6],
     f"near (significant but within the margin: a tie, rank 1): {cells[6]}")
_, c1 = table_row(path, "--margin", "1", "--drift", "0")
want(c1[6].startswith("3:") and "?" not in c1[6],
     f"near at --margin 1 --drift 0 (behind fast and same): {c1[6]}")
_, c2 = table_row(path, "--margin", "1")
want(c2[6].startswith("1:") and "?" in c2[6],
     f"near at --margin 1 with the drift allowance (too noisy to rank): {c2[6]}")
want("Equivalence margin 10%" in out, "the margin is stated")
want(cells[4].startswith("1:") and "?" not in cells[4], f"same (a tie, rank 1): {cells[4]}")
# wild: median 1.08x, within the 5% drift allowance of the 1.10 margin: no number of rounds
# decides; without the allowance, a finite number would.
want(cells[5].startswith("1:") and "?" in cells[5] and "on the margin" in cells[5],
     f"wild (too noisy, undecidable within the drift allowance): {cells[5]}")
_, c0 = table_row(path, "--drift", "0")
want(c0[5].startswith("1:") and "? ~" in c0[5] and "rounds" in c0[5],
     f"wild with --drift 0 (too noisy, with rounds to decide): {c0[5]}")
floor = next((line for line in out.splitlines() if line.startswith("| loop.pingpong/pairs:1 (floor")), "")
fcells = [c.strip() for c in floor.strip("|").split("|")]
want(len(fcells) == 6 and fcells[1] == "80% [80%, 80%]", f"floor share of fast: {floor}")
want(len(fcells) == 6 and "above the floor" not in floor, f"no loop is above the floor: {floor}")
# A file's own verdicts (written by bench) are rendered as given: here it calls slow/fast (a
# decided pair by the data) too noisy, with 99 rounds to decide.
doc["context"]["bench_margin"] = 0.10
doc["context"]["bench_drift"] = 0.05
doc["rankings"] = [{"benchmark": "loop.pingpong/pairs:1", "a": "fast", "b": "slow", "rounds": 12,
                    "ratio": 0.5, "lo": 0.5, "hi": 0.5, "level": 0.96, "verdict": "ahead",
                    "too_noisy": True, "rounds_to_decide": 99}]
given = os.path.join(work, "given.json")
with open(given, "w", encoding="utf-8") as f:
    json.dump(doc, f)
gout, gcells = table_row(given)
want(gcells[3].startswith("4:") and "? ~99 rounds" in gcells[3],
     f"slow with the file's verdict (fast/slow too noisy: rank 4): {gcells[3]}")
want("verdicts as the run recorded them" in gout, "says the verdicts come from the file")
agree = subprocess.run([sys.executable, table, path, "--agree", path], capture_output=True,
                       text=True, check=True).stdout
want("0 CONTRADICT" in agree and "0 DIFFER, flagged by one" in agree
     and "0 differ, flagged by both" in agree, f"a file agrees with itself: {agree}")
def agree_row(other, pair):
    out = subprocess.run([sys.executable, table, path, "--agree", other], capture_output=True,
                         text=True, check=True).stdout
    return next((l for l in out.splitlines() if f"| {pair} |" in l), "")
_, p112 = synthetic(1.08, "near112.json")
row = agree_row(p112, "fast / near")
want(row.endswith("| DIFFER, flagged by one |") and "| tie 0.96x" in row and "ahead? 0.89x" in row,
     f"near at 1.12x: a decided tie against a flagged ahead: {row}")
_, p130 = synthetic(1.25, "near130.json")
row = agree_row(p130, "fast / near")
want(row.endswith("| CONTRADICT |") and "| ahead 0.77x" in row, f"near at 1.3x: {row}")
old = os.path.join(os.path.dirname(os.path.abspath(table)), "testdata", "good.json")
r1 = subprocess.run([sys.executable, table, old], capture_output=True, text=True)
want(r1.returncode == 0 and "NOT interleaved" in r1.stdout, f"schema 1 file: {r1.stderr}")
for f in fails:
    print("FAIL:", f)
if not fails:
    print("table.py: ranks, ties, too-noisy flags, floor shares and --agree as expected")
sys.exit(1 if fails else 0)
