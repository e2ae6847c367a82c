#!/usr/bin/env python3
"""table_check.py: table.py's paired verdicts on a synthetic schema 2 file with known answers.

Four backends over 12 rounds, each round scaled by a drift factor common to all of them (what
interleaving is for): "fast" is the fastest; "slow" takes 1.5x its time every round (rank 4:
every other backend is significantly ahead of it); "same" is within +-1% of fast (a tie, rank 1); "wild" is 0.6x-1.6x of fast, centred
on 1.05x (too noisy against fast: '?', with rounds to decide, yet ahead of slow). Also the floor share and --agree of the file
with itself, and schema 1 (results/baseline before rounds) still reading.
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
entries = []
for r, d in enumerate(drift):
    t = 1000.0 * d
    for be, v in (("fast", t), ("slow", 1.5 * t), ("same", same[r] * t), ("wild", wild[r] * t)):
        entries.append({"name": "loop.pingpong/pairs:1", "run_type": "iteration", "backend": be,
                        "round": r, "real_time": v, "time_unit": "ns", "iterations": 10})
    entries.append({"name": "floor.pingpong/pairs:1", "run_type": "iteration", "backend": "none",
                    "round": r, "real_time": 0.8 * t, "time_unit": "ns", "iterations": 10})
doc = {"schema": "loopconf-bench/2",
       "context": {"mode": "time", "bench_rounds": 12, "bench_round_seed": 1,
                   "bench_backend_order": ["fast", "slow", "same", "wild", "none"]},
       "benchmarks": entries}
path = os.path.join(work, "synthetic.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(doc, f)
out = subprocess.run([sys.executable, table, path], capture_output=True, text=True, check=True).stdout
row = next(line for line in out.splitlines() if line.startswith("| loop.pingpong/pairs:1 |"))
cells = [c.strip() for c in row.strip("|").split("|")]
fails = []
def want(cond, what):
    if not cond:
        fails.append(what)
want(cells[1] == "12", f"rounds column: {cells[1]}")
want(cells[2].startswith("1:") and "(fastest)" in cells[2], f"fast: {cells[2]}")
# slow: 1.5x fast every round despite the drift; fast, same and even wild (0.4-1.07x of slow,
# its 95% interval [0.53, 0.93]) are all decidedly ahead of it: rank 4.
want(cells[3].startswith("4:") and "1.50x [1.50, 1.50]" in cells[3] and "?" not in cells[3],
     f"slow: {cells[3]}")
want(cells[4].startswith("1:") and "?" not in cells[4], f"same (a tie, rank 1): {cells[4]}")
want(cells[5].startswith("1:") and "?" in cells[5] and "rounds" in cells[5],
     f"wild (too noisy, with rounds to decide): {cells[5]}")
floor = next((line for line in out.splitlines() if line.startswith("| loop.pingpong/pairs:1 (floor")), "")
fcells = [c.strip() for c in floor.strip("|").split("|")]
want(len(fcells) == 5 and fcells[1] == "80% [80%, 80%]", f"floor share of fast: {floor}")
want(len(fcells) == 5 and "above the floor" not in floor, f"no loop is above the floor: {floor}")
agree = subprocess.run([sys.executable, table, path, "--agree", path], capture_output=True,
                       text=True, check=True).stdout
want("0 CONTRADICT" in agree and "0 flagged by one" in agree, "a file agrees with itself")
old = os.path.join(os.path.dirname(os.path.abspath(table)), "testdata", "good.json")
r1 = subprocess.run([sys.executable, table, old], capture_output=True, text=True)
want(r1.returncode == 0 and "NOT interleaved" in r1.stdout, f"schema 1 file: {r1.stderr}")
for f in fails:
    print("FAIL:", f)
if not fails:
    print("table.py: ranks, ties, too-noisy flags, floor shares and --agree as expected")
sys.exit(1 if fails else 0)
