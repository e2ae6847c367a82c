#!/usr/bin/python3
"""py_tasks.py: runtime.gather_100k_sleep measured on CPython asyncio and uvloop, and (with
--loopconf) on the loopconf runtime in the same run, rounds interleaved: in its dedicated-stack
mode and in its copy-stack mode (runtime.gather_100k_sleep/mode:copy, runtime.h's
LC_STACK_COPY) unless --modes says otherwise.

Each measurement is a fresh process that spawns N tasks sleeping 50 ms and gathers them:
wall time from the first create_task to gather's return, CPU time (user + system) of the
process over that span, and the RSS grown meanwhile divided by N (the same figures, measured
the same way, as bench_runtime.c's runtime.gather_100k_sleep). One round runs every model
once; the table gives median, min and max over the rounds, and the load average before and
after (the machine is shared: say so next to any figure).

  /usr/bin/python3 harness/bench/py_tasks.py [--tasks N] [--rounds R] [--loopconf PATH]
        [--backend NAME] [--modes dedicated,copy] [--json FILE]

uvloop comes from Debian's python3-uvloop, so run it with /usr/bin/python3; a model whose
module is missing is reported as such and skipped. Bad arguments: one line, exit 2.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SLEEP = 0.05

CHILD = r"""
import asyncio, os, resource, sys, time
model, n = sys.argv[1], int(sys.argv[2])
if model == "uvloop":
    import uvloop
    uvloop.install()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
async def main():
    r0, c0, t0 = rss(), cpu(), time.monotonic()
    await asyncio.gather(*[asyncio.create_task(asyncio.sleep(%r)) for _ in range(n)])
    t1, c1, r1 = time.monotonic(), cpu(), rss()
    print(t1 - t0, c1 - c0, (r1 - r0) / n)
asyncio.run(main())
""" % SLEEP


def fail(msg):
    print("py_tasks.py: " + msg, file=sys.stderr)
    sys.exit(2)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def run_python(model, n):
    p = subprocess.run([sys.executable, "-c", CHILD, model, str(n)], capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        return None, last
    wall, cpu, per = (float(x) for x in p.stdout.split())
    return {"wall_ms": wall * 1e3, "cpu_ms": cpu * 1e3, "rss_bytes_per_task": per}, None


def run_loopconf(path, backend, n, mode):
    if n != 100000:
        return None, "loopconf's benchmark has 100,000 tasks only"
    name = "runtime.gather_100k_sleep" + ("/mode:copy" if mode == "copy" else "")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.json")
        p = subprocess.run([path, "bench", "--backend", backend, "--filter",
                            "^" + name.replace(".", "\\.") + "$", "--rounds", "1", "--repetitions", "1",
                            "--min-time", "0.01", "--out", out],
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            return None, (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
        with open(out) as f:
            res = json.load(f)
    for b in res.get("benchmarks", []):
        if b.get("run_type") == "iteration" and b.get("name") == name:
            return {"wall_ms": b["gather_wall_ms"], "cpu_ms": b["cpu_ms"],
                    "rss_bytes_per_task": b["rss_bytes_per_task"]}, None
    return None, "no %s entry in the results" % name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--loopconf", help="path of the loopconf binary (adds the C runtime)")
    ap.add_argument("--backend", default="reference")
    ap.add_argument("--modes", default="dedicated,copy",
                    help="the runtime's stack modes to measure (comma-separated)")
    ap.add_argument("--json", help="write every sample to this file (atomically)")
    a = ap.parse_args()
    if a.tasks < 1 or a.tasks > 10_000_000:
        fail("--tasks must be 1..10000000, not %d" % a.tasks)
    if a.rounds < 1 or a.rounds > 100:
        fail("--rounds must be 1..100, not %d" % a.rounds)
    if a.loopconf and not os.access(a.loopconf, os.X_OK):
        fail("--loopconf %s: not an executable file" % a.loopconf)
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in ("dedicated", "copy"):
            fail("--modes: '%s' is not a stack mode (dedicated, copy)" % m)
    if a.loopconf and not modes:
        fail("--modes: no mode given")
    models = ["asyncio", "uvloop"] + (["loopconf-%s/%s" % (a.backend, m) for m in modes]
                                      if a.loopconf else [])
    samples = {m: [] for m in models}
    notes = {}
    load_before = loadavg()
    for r in range(a.rounds):
        for m in models:
            if m in notes:
                continue
            if m.startswith("loopconf-"):
                s, err = run_loopconf(a.loopconf, a.backend, a.tasks, m.rsplit("/", 1)[1])
            else:
                s, err = run_python(m, a.tasks)
            if s is None:
                notes[m] = err
            else:
                samples[m].append(s)
    load_after = loadavg()
    print("%d tasks sleeping %d ms, gathered; %d rounds; load average %s before, %s after"
          % (a.tasks, SLEEP * 1000, a.rounds, load_before, load_after))
    print("| model | wall ms median (min-max) | beyond 50 ms | CPU ms median (min-max) "
          "| RSS B/task median |")
    print("| --- | --- | --- | --- | --- |")
    for m in models:
        xs = samples[m]
        if not xs:
            print("| %s | not measured: %s | | | |" % (m, notes.get(m, "?")))
            continue
        w = [x["wall_ms"] for x in xs]
        med = statistics.median(w)
        c = [x["cpu_ms"] for x in xs]
        print("| %s | %.0f (%.0f-%.0f) | %.0f | %.0f (%.0f-%.0f) | %.0f |"
              % (m, med, min(w), max(w), med - SLEEP * 1000,
                 statistics.median(c), min(c), max(c),
                 statistics.median(x["rss_bytes_per_task"] for x in xs)))
    if a.json:
        doc = {"tasks": a.tasks, "rounds": a.rounds, "load_before": load_before,
               "load_after": load_after, "samples": samples, "notes": notes}
        d = os.path.dirname(os.path.abspath(a.json))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".py_tasks.")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
