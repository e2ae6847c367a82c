#!/usr/bin/python3
"""summary.py: the tables of results/tasks/README.md from the files measure.sh wrote.

  python3 results/tasks/summary.py [DIR] [--write]

Prints Markdown: the py_tasks.py table, the loopconf bench table per backend (medians of every
sample, min-max), the 1,000,000-task memory figures and the callgrind counts. With --write it
replaces the block between <!-- summary:begin --> and <!-- summary:end --> in DIR/README.md
instead (atomically). Reads only the results files; a missing or malformed one is one line on
stderr and exit 2."""
import json
import os
import statistics
import sys


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
        if not isinstance(d.get("benchmarks"), list):
            raise ValueError("no 'benchmarks' list")
        return d
    except (OSError, ValueError) as e:
        print(f"summary.py: {path}: {e}", file=sys.stderr)
        sys.exit(2)


def samples(d, name, key, backend=None):
    return [float(r[key]) for r in d["benchmarks"]
            if r.get("name") == name and r.get("run_type", "iteration") == "iteration"
            and key in r and (backend is None or r.get("backend") == backend)]


def med(xs, fmt="{:.0f}", spread=True):
    if not xs:
        return "-"
    m = fmt.format(statistics.median(xs))
    return f"{m} ({fmt.format(min(xs))}-{fmt.format(max(xs))})" if spread else m


def main():
    args = [a for a in sys.argv[1:] if a != "--write"]
    here = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    if "--write" not in sys.argv[1:]:
        tables(here)
        return
    import io
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        tables(here)
    readme = os.path.join(here, "README.md")
    try:
        with open(readme) as f:
            text = f.read()
    except OSError as e:
        print(f"summary.py: {readme}: {e}", file=sys.stderr)
        sys.exit(2)
    b, e = "<!-- summary:begin -->", "<!-- summary:end -->"
    if b not in text or e not in text:
        print(f"summary.py: {readme}: no {b} ... {e} block", file=sys.stderr)
        sys.exit(2)
    text = text[:text.index(b) + len(b)] + "\n" + buf.getvalue() + text[text.index(e):]
    with open(readme + ".tmp", "w") as f:
        f.write(text)
    os.replace(readme + ".tmp", readme)


def tables(here):
    try:
        with open(os.path.join(here, "py_tasks_100k.md")) as f:
            py = f.read().strip().splitlines()
    except OSError as e:
        print(f"summary.py: {e}", file=sys.stderr)
        sys.exit(2)
    print(py[0] + ".\n")
    print("\n".join(py[1:]))
    print()
    bt = load(os.path.join(here, "bench_tasks.json"))
    m1 = load(os.path.join(here, "bench_memory_1m.json"))
    cg = load(os.path.join(here, "callgrind_after.json"))
    g, c = "runtime.gather_100k_sleep", "/mode:copy"
    order = ["reference", "libuv", "libev", "libevent", "glib", "sdevent", "tevent"]
    seen = {r.get("backend") for r in bt["benchmarks"] if r.get("name") == g}
    backends = [b for b in order if b in seen] + sorted(b for b in seen - set(order) if b)
    print("| backend | gather_100k_sleep beyond 50 ms: dedicated / copy | CPU ms: dedicated / "
          "copy | memory_per_task B: dedicated / copy | spawn_join ns: dedicated / copy |")
    print("| --- | --- | --- | --- | --- |")
    for b in backends:
        print(f"| {b} | {med(samples(bt, g, 'beyond_50ms_ms', b))} / "
              f"{med(samples(bt, g + c, 'beyond_50ms_ms', b))} | "
              f"{med(samples(bt, g, 'cpu_ms', b), spread=False)} / "
              f"{med(samples(bt, g + c, 'cpu_ms', b), spread=False)} | "
              f"{med(samples(bt, 'runtime.memory_per_task', 'rss_bytes_per_task', b), spread=False)}"
              f" / {med(samples(bt, 'runtime.memory_per_task' + c, 'rss_bytes_per_task', b), spread=False)} | "
              f"{med(samples(bt, 'runtime.spawn_join', 'real_time', b), spread=False)} / "
              f"{med(samples(bt, 'runtime.spawn_join' + c, 'real_time', b), spread=False)} |")
    print()
    print("1,000,000 suspended tasks (reference, `LOOPCONF_BENCH_MEM_TASKS=1000000`): "
          "RSS per task dedicated "
          f"{med(samples(m1, 'runtime.memory_per_task', 'rss_bytes_per_task'), spread=False)} B, "
          "copy-stack "
          f"{med(samples(m1, 'runtime.memory_per_task' + c, 'rss_bytes_per_task'), spread=False)} B "
          "(medians of 3).")
    print()
    print("| callgrind, instructions per item (reference) | dedicated | copy-stack |")
    print("| --- | --- | --- |")
    for n in ("coro.switch_asm", "runtime.yield", "runtime.spawn_join"):
        print(f"| {n} | {med(samples(cg, n, 'instructions_per_item'), '{:.1f}', False)} | "
              f"{med(samples(cg, n + c, 'instructions_per_item'), '{:.1f}', False)} |")


if __name__ == "__main__":
    main()
