#!/usr/bin/env python3
"""table.py: a markdown table from a loopconf-bench results file (python3 stdlib only).

usage: table.py RESULTS.json [--update FILE]

Without --update the table goes to stdout. With --update FILE, the text between the lines
"<!-- bench-table:begin -->" and "<!-- bench-table:end -->" in FILE is replaced by the table
(written to a temporary file and renamed), which is how README.md's table is kept generated.

Per benchmark, each backend's median over the repetitions and its ratio to the best backend;
each loop's ping-pong as a fraction of the bare-syscall floor; the coroutine switch and other
backend-independent figures; custom counters (wakeup coalescing, RSS per task). A cell is
marked ~ when its spread (median absolute deviation / median, nanobench's "err%") is above 5%.
Callgrind results files give instructions per item instead of times.
"""
import json
import os
import statistics
import sys

SCHEMA = "loopconf-bench/1"
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
NOISY = 0.05


def die(msg):
    print(f"table.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        die(f"{path}: {e}")
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        die(f"{path}: not a {SCHEMA} results file")
    if not isinstance(doc.get("benchmarks"), list) or not isinstance(doc.get("context"), dict):
        die(f"{path}: missing context or benchmarks")
    return doc


def fmt_time(ns):
    for unit, f in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= f:
            return f"{ns / f:.3g} {unit}"
    return f"{ns:.3g} ns"


class Series:
    """Per-repetition samples of one (backend, benchmark)."""

    def __init__(self):
        self.values = []    # ns per iteration, or instructions per item
        self.counters = {}  # name -> list of values
        self.error = None

    def median(self):
        return statistics.median(self.values)

    def err(self):
        m = self.median()
        if len(self.values) < 2 or m == 0:
            return 0.0
        return statistics.median(abs(v - m) for v in self.values) / m


COUNTERS = ("sends_per_callback", "rss_bytes_per_task", "tasks")


def collect(doc):
    callgrind = doc["context"].get("mode") == "callgrind"
    data = {}      # name -> backend -> Series
    backends = []  # in file order
    for e in doc["benchmarks"]:
        if not isinstance(e, dict) or e.get("run_type") == "aggregate":
            continue
        name = e.get("run_name") or e.get("name")
        be = e.get("backend")
        if not isinstance(name, str) or not isinstance(be, str):
            die("an entry lacks name or backend")
        if be not in backends:
            backends.append(be)
        s = data.setdefault(name, {}).setdefault(be, Series())
        if e.get("error_occurred"):
            s.error = e.get("error_message", "error")
            continue
        if callgrind:
            v = e.get("instructions_per_item")
        else:
            t, unit = e.get("real_time"), e.get("time_unit", "ns")
            v = t * UNIT_NS[unit] if isinstance(t, (int, float)) and unit in UNIT_NS else None
        if not isinstance(v, (int, float)):
            die(f"{name} on {be}: no figure")
        s.values.append(float(v))
        for c in COUNTERS:
            if isinstance(e.get(c), (int, float)):
                s.counters.setdefault(c, []).append(float(e[c]))
    return callgrind, data, backends


BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def update(path, table):
    """Replace the text between the BEGIN and END marker lines of path with table."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die(f"{path}: {e}")
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        die(f"{path}: no '{BEGIN}' ... '{END}' block to update")
    text = text[:i + len(BEGIN)] + "\n" + table + "\n" + text[j:]
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        die(f"{path}: {e}")


def main():
    args = sys.argv[1:]
    target = None
    if len(args) == 3 and args[1] == "--update":
        target = args[2]
        args = args[:1]
    if len(args) != 1 or args[0] in ("-h", "--help") or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    doc = load(args[0])
    ctx = doc["context"]
    callgrind, data, backends = collect(doc)
    loops = [b for b in backends if b != "none"]
    fmt = (lambda v: f"{v:,.1f} Ir") if callgrind else fmt_time

    out = []
    versions = ctx.get("backends", {})
    out.append(f"Results: {ctx.get('cpu_model', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
               f"{ctx.get('kernel', '?').split(' #')[0]}, {ctx.get('compiler', '?')}, "
               f"{ctx.get('build_type', '?')}, commit {ctx.get('git_commit', '?')[:12]}, "
               f"{ctx.get('date', '')}.")
    out.append("Backends: " + "; ".join(f"{b} = {versions.get(b, '?')}" for b in loops) + ".")
    if callgrind:
        out.append("Instructions per item under callgrind (user space only; lower is better).")
    else:
        out.append(f"Median wall time per iteration over {ctx.get('bench_repetitions', '?')} "
                   "repetitions; (x) = ratio to the best backend; ~ = spread above 5%.")
    out.append("")

    loop_names = [n for n in data if any(b in data[n] for b in loops)]
    if loop_names:
        out.append("| benchmark | " + " | ".join(loops) + " |")
        out.append("|---|" + "---|" * len(loops))
        for name in loop_names:
            cells = data[name]
            meds = {b: cells[b].median() for b in loops if b in cells and cells[b].values}
            best = min(meds.values()) if meds else 0
            row = []
            for b in loops:
                s = cells.get(b)
                if s is None:
                    row.append("n/a")
                elif not s.values:
                    row.append("error")
                else:
                    mark = " ~" if s.err() > NOISY else ""
                    ratio = meds[b] / best if best > 0 else 1.0
                    row.append(f"{fmt(meds[b])} ({ratio:.2f}x){mark}")
            out.append(f"| {name} | " + " | ".join(row) + " |")
        out.append("")

    indep = [n for n in data if "none" in data[n]]
    if indep:
        out.append("| backend-independent | median |")
        out.append("|---|---|")
        for name in indep:
            s = data[name]["none"]
            cell = "error" if not s.values else fmt(s.median()) + (" ~" if s.err() > NOISY else "")
            out.append(f"| {name} | {cell} |")
        out.append("")

    # Each loop's ping-pong as a fraction of the bare-syscall floor (time_floor / time_loop).
    floors = {n.split("/", 1)[1]: data[n]["none"] for n in data
              if n.startswith("floor.pingpong/") and "none" in data[n] and data[n]["none"].values}
    pp = [n for n in data if n.startswith("loop.pingpong/") and n.split("/", 1)[1] in floors]
    if pp and not callgrind:
        out.append("| ping-pong, share of the kernel floor | " + " | ".join(loops) + " |")
        out.append("|---|" + "---|" * len(loops))
        for name in pp:
            floor = floors[name.split("/", 1)[1]].median()
            row = []
            for b in loops:
                s = data[name].get(b)
                row.append(f"{floor / s.median():.0%}" if s and s.values else "n/a")
            out.append(f"| {name} (floor {fmt(floor)}) | " + " | ".join(row) + " |")
        out.append("")

    counter_rows = []
    for name in data:
        for c in COUNTERS:
            vals = {b: statistics.median(s.counters[c]) for b, s in data[name].items()
                    if c in s.counters}
            if vals:
                counter_rows.append((f"{name}: {c}", vals))
    if counter_rows:
        out.append("| counter (median) | " + " | ".join(loops) + " |")
        out.append("|---|" + "---|" * len(loops))
        for label, vals in counter_rows:
            out.append(f"| {label} | " + " | ".join(
                f"{vals[b]:,.1f}" if b in vals else "n/a" for b in loops) + " |")
        out.append("")

    errors = [(n, b, s.error) for n in data for b, s in data[n].items() if s.error]
    for n, b, msg in errors:
        out.append(f"- error: {n} on {b}: {msg}")
    table = "\n".join(out).rstrip()
    if target:
        update(target, table)
    else:
        print(table)


if __name__ == "__main__":
    main()
