#!/usr/bin/env python3
"""table.py: a markdown table from a loopconf-bench results file (python3 stdlib only).

usage: table.py RESULTS.json [--callgrind CG.json] [--update FILE] [--margin PCT] [--drift PCT]
                [--agree OTHER.json [--differences]]

Without --update the table goes to stdout. With --update FILE, the text between the lines
"<!-- bench-table:begin -->" and "<!-- bench-table:end -->" in FILE is replaced by the table
(written to a temporary file and renamed), which is how README.md's table is kept generated.

Per benchmark, each backend's median over the repetitions and its ratio to the best backend;
each loop's ping-pong as a fraction of the bare-syscall floor; the coroutine switch and other
backend-independent figures; custom counters (wakeup coalescing, RSS per task). A cell is
marked ~ when its spread (median absolute deviation / median, nanobench's "err%") is above 5%.
Callgrind results files give instructions per item instead of times.

Files from interleaved rounds (schema loopconf-bench/2) are read as paired rounds: per benchmark
and backend pair, the ratio of their times in each round, summarised as the median with an
exact 95% confidence interval for it (order statistics of the binomial, as in paired.c), and
a verdict against an equivalence margin m (a practical-difference threshold: the file's
context.bench_margin, else 10%, or --margin PCT): a backend is ahead of another when the
median lies below 1/(1+m), behind above 1+m, a tie in between; the verdict is decided when the
interval, widened by the drift allowance d on each side (context.bench_drift, else 5%, or
--drift PCT: how far a median moves between runs made at different times), lies wholly on
that side, otherwise the pair is flagged "?" (too noisy to rank) with the rounds it would take
to decide, estimated from the observed spread (lcbench_verdict and lcbench_point_verdict in
paired.c: the same rule; a file written by `bench` carries its verdicts in "rankings", which
are rendered as given when the margin and drift allowance are the file's). Rank = 1 + the
number of backends decidedly ahead (ties share a rank). Ping-pong shares of the kernel floor get the same treatment. --callgrind adds each backend's instruction
ratio (to the fastest backend's) next to its time, so a tie in time with a clear difference in
instructions shows. --agree OTHER.json prints, for two runs, every pairwise verdict of both
and whether they agree (the check that rankings survive a noisy machine).
Schema 1 files (no rounds) pair repetitions by index: not interleaved, say so.
"""
import json
import math
import os
import statistics
import sys

SCHEMAS = ("loopconf-bench/2", "loopconf-bench/1")
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
    if not isinstance(doc, dict) or doc.get("schema") not in SCHEMAS:
        die(f"{path}: not a {' or '.join(SCHEMAS)} results file")
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
        self.rounds = []    # the round of each value
        self.counters = {}  # name -> list of values
        self.error = None

    def median(self):
        return statistics.median(self.values)

    def per_round(self):
        """round -> median of that round's values."""
        by = {}
        for r, v in zip(self.rounds, self.values):
            by.setdefault(r, []).append(v)
        return {r: statistics.median(vs) for r, vs in by.items()}

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
        r = e.get("round", e.get("repetition_index", 0))
        s.rounds.append(r if isinstance(r, int) else 0)
        for c in COUNTERS:
            if isinstance(e.get(c), (int, float)):
                s.counters.setdefault(c, []).append(float(e[c]))
    # Report order: as the run recorded it (backends as selected, benchmarks as registered);
    # older files: the built-in backends first, benchmarks grouped by area, then by name.
    ctx = doc["context"]
    border = ctx.get("bench_backend_order") or []
    pref = border + [b for b in ("reference", "libuv", "libev", "libevent") if b not in border]
    first = list(backends)
    backends.sort(key=lambda b: (pref.index(b) if b in pref else len(pref), first.index(b)))
    norder = ctx.get("bench_order") or []
    if norder:
        key = lambda n: (norder.index(n) if n in norder else len(norder), n)
    else:
        groups = ("loop.", "runtime.", "floor.", "coro.")
        key = lambda n: (next((i for i, g in enumerate(groups) if n.startswith(g)), 9),
                         n.split("/")[0], len(n), n)
    data = {n: data[n] for n in sorted(data, key=key)}
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


LEVEL = 0.95
DEFAULT_MARGIN = 0.10  # LCBENCH_DEFAULT_MARGIN; why 10%: harness/bench/README.md
DEFAULT_DRIFT = 0.05   # LCBENCH_DEFAULT_DRIFT; why 5%: harness/bench/README.md
MARGIN = DEFAULT_MARGIN
DRIFT = DEFAULT_DRIFT


def median_ci(values, level=LEVEL):
    """(median, lo, hi, coverage) of values: the exact distribution-free interval for the
    median from order statistics x(k), x(n+1-k), the largest k with coverage >= level."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return None
    med = statistics.median(v)
    k, cov, cdf = 1, 1 - 2 * 0.5 ** n, 0.0
    for j in range(1, (n + 1) // 2 + 1):
        cdf += math.comb(n, j - 1) / 2 ** n
        if 1 - 2 * cdf >= level:
            k, cov = j, 1 - 2 * cdf
        else:
            break
    return med, v[k - 1], v[n - k], cov


def point_verdict(med, margin):
    """lcbench_point_verdict: 'ahead' (median below 1/(1+m)), 'behind' (above 1+m), 'tie'."""
    return "ahead" if med < 1 / (1 + margin) else "behind" if med > 1 + margin else "tie"


def verdict(n, lo, hi, cov, margin, drift=0.0):
    """lcbench_verdict: with the interval widened by the drift allowance ([lo e^-d, hi e^d]),
    'ahead' (wholly below 1/(1+m)), 'behind' (above 1+m), 'tie' (within both), else 'noisy';
    fewer than 6 rounds or coverage short of LEVEL: 'noisy'."""
    if n < 6 or cov < LEVEL or lo <= 0:
        return "noisy"
    lo, hi = lo * math.exp(-drift), hi * math.exp(drift)
    up, down = 1 + margin, 1 / (1 + margin)
    if hi < down:
        return "ahead"
    if lo > up:
        return "behind"
    if lo >= down and hi <= up:
        return "tie"
    return "noisy"


def rounds_needed(n, med, lo, hi, margin, drift=0.0):
    """lcbench_rounds_to_decide: the log half-width h shrinks like 1/sqrt(n) and must fall
    below D - drift, D = | |log median| - log(1+m) |. None when the median sits within the
    drift allowance of the margin (no number of rounds decides)."""
    if med <= 0 or lo <= 0:
        return None
    d = abs(abs(math.log(med)) - math.log1p(margin)) - drift
    if d < 1e-12:
        return None
    h = (math.log(hi) - math.log(lo)) / 2
    return max(n + 1, 6, math.ceil(n * (h / d) ** 2))


class Paired:
    """The per-round ratio a/b of two series, summarised."""

    def __init__(self, a, b, invert=False, given=None):
        """given: the file's "rankings" entry for this pair (rendered as the file says)."""
        self.given = given
        ra, rb = a.per_round(), b.per_round()
        common = sorted(set(ra) & set(rb))
        self.ratios = [(rb[r] / ra[r]) if invert else (ra[r] / rb[r]) for r in common
                       if ra[r] > 0 and rb[r] > 0]
        self.n = len(self.ratios)
        ci = median_ci(self.ratios)
        self.med, self.lo, self.hi, self.cov = ci if ci else (1.0, 0.0, math.inf, 0.0)

    def verdict(self):
        """The point verdict: 'ahead' (a lower than b), 'behind' or 'tie'."""
        if self.given:
            return self.given["verdict"]
        return point_verdict(self.med, MARGIN) if self.n else "tie"

    def noisy(self):
        """Too noisy to rank: the verdict is not decided (flagged '?')."""
        if self.given:
            return bool(self.given["too_noisy"])
        return verdict(self.n, self.lo, self.hi, self.cov, MARGIN, DRIFT) == "noisy"

    def decided(self):
        """The verdict when decided, else 'noisy'."""
        return "noisy" if self.noisy() else self.verdict()

    def need(self):
        if self.given:
            return self.given.get("rounds_to_decide")
        return rounds_needed(self.n, self.med, self.lo, self.hi, MARGIN, DRIFT) if self.n else None

    def fmt(self, pct=False):
        if pct:
            return f"{self.med:.0%} [{self.lo:.0%}, {self.hi:.0%}]"
        return f"{self.med:.2f}x [{self.lo:.2f}, {self.hi:.2f}]"


def need_text(p):
    need = p.need()
    if need is None:
        return "? (on the margin)"
    return f"? ~{need} rounds" if need < 10000 else "? >10k rounds"


def file_rankings(doc):
    """(benchmark, a, b) -> the file's "rankings" entry, when they were made with MARGIN and
    DRIFT (files from before the drift allowance carry no "too_noisy": recomputed)."""
    ctx = doc["context"]
    rk = doc.get("rankings")
    if (not isinstance(rk, list) or ctx.get("bench_margin") != MARGIN
            or ctx.get("bench_drift") != DRIFT):
        return {}
    res = {}
    for e in rk:
        if (isinstance(e, dict) and e.get("verdict") in ("ahead", "behind", "tie")
                and isinstance(e.get("too_noisy"), bool)):
            res[(e.get("benchmark"), e.get("a"), e.get("b"))] = e
    return res


def pair_of(cells, a, b, given):
    """Paired a/b, with the file's verdict when it has one for (a, b) or (b, a)."""
    name = given.get("__name__")
    e = given.get((name, a, b))
    if e:
        return Paired(cells[a], cells[b], given=e)
    e = given.get((name, b, a))
    if e:
        flip = {"ahead": "behind", "behind": "ahead"}
        return Paired(cells[a], cells[b], given=dict(e, verdict=flip.get(e["verdict"], e["verdict"])))
    return Paired(cells[a], cells[b])


def timed_tables(doc, data, loops, cg):
    """The paired tables of a timed results file. cg: (data, backends) of a callgrind file."""
    ctx = doc["context"]
    out = []
    given = file_rankings(doc)
    nrounds = ctx.get("bench_rounds")
    if nrounds is None:
        out.append(f"Schema 1 file: {ctx.get('bench_repetitions', '?')} repetitions per backend, "
                   "NOT interleaved; ratios pair repetitions by index and carry the drift between "
                   "backends.")
    else:
        logs = ctx.get("bench_rounds_log") or []
        loads = [r["load_avg"][0] for r in logs if r.get("load_avg")]
        end = ctx.get("load_avg_end") or []
        load = (f"1-minute load average {min(loads):.1f}-{max(loads):.1f} at the round starts"
                if loads else "load average not recorded")
        if end:
            load += f", {end[0]:.1f} at the end"
        out.append(f"{nrounds} interleaved rounds (seed {ctx.get('bench_round_seed')}; each round "
                   f"runs every backend once, in a shuffled order, {ctx.get('bench_repetitions', 1)}"
                   f" repetition(s) of at least {ctx.get('bench_min_time_s', 0):g} s per "
                   f"benchmark); {load} on {ctx.get('num_cpus', '?')} CPUs.")
    src = "as the run recorded them" if given else "recomputed"
    out.append("Cell: rank (1 + backends decidedly ahead; equal ranks are ties) : median "
               "time, then the median over rounds of the per-round ratio to the fastest backend "
               f"with its exact 95% interval. Equivalence margin {MARGIN:.0%} (verdicts {src}): "
               f"ahead when the median lies beyond it (below {1 / (1 + MARGIN):.3f} or above "
               f"{1 + MARGIN:.2f}), a tie when within it, decided when the whole interval widened "
               f"by the {DRIFT:.0%} drift allowance (how far medians move between runs) lies on "
               "that side; `?` = too noisy to rank, with the rounds it would take to decide "
               "(on the margin: the median lies within the drift allowance of the margin, and "
               "no number of rounds in one run decides). "
               "(The fastest is the lowest median time; a median of per-round ratios can still "
               "fall below 1.00x.)"
               + (" Ir = callgrind instructions per item, as a ratio to the fastest backend's."
                  if cg else ""))
    out.append("")
    cgdata = cg[0] if cg else {}
    loop_names = [n for n in data if any(b in data[n] for b in loops)]
    if loop_names:
        out.append("| benchmark | rounds | " + " | ".join(loops) + " |")
        out.append("|---|---|" + "---|" * len(loops))
        for name in loop_names:
            cells = data[name]
            have = [b for b in loops if b in cells and cells[b].values]
            if not have:
                out.append(f"| {name} | 0 | " + " | ".join("error" if b in cells else "n/a"
                                                          for b in loops) + " |")
                continue
            meds = {b: statistics.median(cells[b].per_round().values()) for b in have}
            best = min(have, key=lambda b: meds[b])
            given["__name__"] = name
            pair = {(a, b): pair_of(cells, a, b, given) for a in have for b in have if a != b}
            rank = {b: 1 + sum(1 for a in have if a != b and pair[(a, b)].decided() == "ahead")
                    for b in have}
            cgc = cgdata.get(name, {})
            cg_best = cgc.get(best)
            row = []
            for b in loops:
                if b not in cells:
                    row.append("n/a")
                    continue
                if b not in have:
                    row.append("error")
                    continue
                cell = f"{rank[b]}: {fmt_time(meds[b])}"
                if b == best:
                    cell += " (fastest)"
                else:
                    p = pair[(b, best)]
                    cell += f", {p.fmt()}"
                    if p.noisy():
                        cell += " " + need_text(p)
                s = cgc.get(b)
                if s and s.values and cg_best and cg_best.values:
                    cell += f"; Ir {s.median() / cg_best.median():.2f}x"
                row.append(cell)
            n = min(p.n for p in pair.values()) if pair else len(cells[best].per_round())
            out.append(f"| {name} | {n} | " + " | ".join(row) + " |")
        out.append("")

    indep = [n for n in data if "none" in data[n]]
    if indep:
        out.append("| backend-independent | median | 95% interval | rounds |")
        out.append("|---|---|---|---|")
        for name in indep:
            s = data[name]["none"]
            if not s.values:
                out.append(f"| {name} | error | | |")
                continue
            pr = list(s.per_round().values())
            med, lo, hi, _ = median_ci(pr)
            out.append(f"| {name} | {fmt_time(med)} | {fmt_time(lo)} - {fmt_time(hi)} | "
                       f"{len(pr)} |")
        out.append("")

    floors = {n.split("/", 1)[1]: data[n]["none"] for n in data
              if n.startswith("floor.pingpong/") and "none" in data[n] and data[n]["none"].values}
    pp = [n for n in data if n.startswith("loop.pingpong/") and n.split("/", 1)[1] in floors]
    if pp:
        out.append("| ping-pong, share of the kernel floor (floor time / loop time, per round) | "
                   + " | ".join(loops) + " |")
        out.append("|---|" + "---|" * len(loops))
        for name in pp:
            floor = floors[name.split("/", 1)[1]]
            row = []
            for b in loops:
                s = data[name].get(b)
                if not s or not s.values:
                    row.append("n/a")
                    continue
                p = Paired(s, floor, invert=True)
                v = p.decided()
                # p is floor/loop: "ahead" = a share below 100% (the usual), "behind" = above
                mark = {"ahead": "", "behind": " (above the floor?!)", "tie": " (at the floor)",
                        "noisy": " " + need_text(p)}[v]
                row.append(p.fmt(pct=True) + mark)
            out.append(f"| {name} (floor {fmt_time(statistics.median(floor.values))}) | "
                       + " | ".join(row) + " |")
        out.append("")
    return out


def verdicts(doc):
    """(benchmark, a, b) -> Paired of a/b for every backend pair (a before b in file order)."""
    callgrind, data, backends = collect(doc)
    if callgrind:
        die("--agree compares timed runs, not callgrind files")
    loops = [b for b in backends if b != "none"]
    given = file_rankings(doc)
    res = {}
    for name, cells in data.items():
        have = [b for b in loops if b in cells and cells[b].values]
        given["__name__"] = name
        for i, a in enumerate(have):
            for b in have[i + 1:]:
                res[(name, a, b)] = pair_of(cells, a, b, given)
        floor = data.get("floor." + name.split(".", 1)[1], {}).get("none") \
            if name.startswith("loop.pingpong/") else None
        if floor and floor.values:
            for a in have:
                res[(name, a, "floor")] = Paired(cells[a], floor)
    return res


AGREE_KEYS = ("agree", "agree, flagged", "differ, flagged by both", "DIFFER, flagged by one",
              "CONTRADICT")


def agree(doc1, doc2, path1, path2, only_differences=False):
    """Every pairwise verdict of two runs: agree (the same verdict, decided by both), agree,
    flagged (the same verdict, too noisy to rank in one run or both), differ, flagged by both
    (what the issue allows: both runs said they could not rank it), DIFFER, flagged by one
    (one run decided, the other differed: the rankings did not survive), CONTRADICT (both
    decided, differently)."""
    v1, v2 = verdicts(doc1), verdicts(doc2)
    out = [f"| benchmark | pair | run 1 ({os.path.basename(path1)}) | run 2 "
           f"({os.path.basename(path2)}) | agree |", "|---|---|---|---|---|"]
    counts = {k: 0 for k in AGREE_KEYS}
    for key in v1:
        if key not in v2:
            continue
        p, q = v1[key], v2[key]
        a, b = p.verdict(), q.verdict()
        fa, fb = p.noisy(), q.noisy()
        if a == b:
            res = "agree, flagged" if fa or fb else "agree"
        elif fa and fb:
            res = "differ, flagged by both"
        elif fa or fb:
            res = "DIFFER, flagged by one"
        else:
            res = "CONTRADICT"
        counts[res] += 1
        name, x, y = key
        if not only_differences or not res.startswith("agree"):
            out.append(f"| {name} | {x} / {y} | {a}{'?' if fa else ''} {p.fmt()} | "
                       f"{b}{'?' if fb else ''} {q.fmt()} | {res} |")
    out.append("")
    out.append(f"{sum(counts.values())} pairwise verdicts: " +
               ", ".join(f"{v} {k}" for k, v in counts.items()) + ". (ahead = the first of "
               "the pair is faster; ? = too noisy to rank, the point verdict flagged; margin "
               f"{MARGIN:.0%}, drift allowance {DRIFT:.0%}.)")
    return out, counts


def percent_arg(opt, text, top):
    """text as a fraction, or exit 2 when it is not a percentage from 0 to top."""
    try:
        v = float(text) / 100
    except ValueError:
        v = -1
    if not 0 <= v <= top / 100:
        die(f"{opt} '{text}' is not a percentage from 0 to {top}")
    return v


def main():
    args = sys.argv[1:]
    global MARGIN
    global DRIFT
    target = cgpath = agree_path = margin_arg = drift_arg = None
    only_diff = False
    pos = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--differences":
            only_diff = True
            i += 1
            continue
        if a in ("--update", "--callgrind", "--agree", "--margin", "--drift"):
            if i + 1 >= len(args):
                die(f"option {a} needs a value")
            if a == "--update":
                target = args[i + 1]
            elif a == "--callgrind":
                cgpath = args[i + 1]
            elif a == "--margin":
                margin_arg = percent_arg(a, args[i + 1], 1000)
            elif a == "--drift":
                drift_arg = percent_arg(a, args[i + 1], 100)
            else:
                agree_path = args[i + 1]
            i += 2
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        elif a.startswith("-"):
            die(f"unknown option {a} (see --help)")
        else:
            pos.append(a)
            i += 1
    if len(pos) != 1:
        die("want one results file (see --help)")
    doc = load(pos[0])
    file_margin = doc["context"].get("bench_margin")
    MARGIN = margin_arg if margin_arg is not None else (
        file_margin if isinstance(file_margin, (int, float)) and file_margin >= 0 else DEFAULT_MARGIN)
    file_drift = doc["context"].get("bench_drift")
    DRIFT = drift_arg if drift_arg is not None else (
        file_drift if isinstance(file_drift, (int, float)) and file_drift >= 0 else DEFAULT_DRIFT)
    if agree_path:
        lines, counts = agree(doc, load(agree_path), pos[0], agree_path, only_diff)
        print("\n".join(lines))
        sys.exit(0)
    ctx = doc["context"]
    callgrind, data, backends = collect(doc)
    loops = [b for b in backends if b != "none"]
    fmt = (lambda v: f"{v:,.1f} Ir") if callgrind else fmt_time
    cg = None
    if cgpath:
        cgdoc = load(cgpath)
        cgc, cgd, cgb = collect(cgdoc)
        if not cgc or callgrind:
            die(f"--callgrind wants a callgrind results file and RESULTS a timed one")
        cg = (cgd, cgb)

    out = []
    versions = ctx.get("backends", {})
    out.append(f"Results: {ctx.get('cpu_model', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
               f"{ctx.get('kernel', '?').split(' #')[0]}, {ctx.get('compiler', '?')}, "
               f"{ctx.get('build_type', '?')}, commit {ctx.get('git_commit', '?')[:12]}, "
               f"{ctx.get('date', '')}.")
    out.append("Backends: " + "; ".join(f"{b} = {versions.get(b, '?')}" for b in loops) + ".")
    if callgrind:
        out.append("Instructions per item under callgrind (user space only; lower is better).")
        out.append("")
    else:
        out += timed_tables(doc, data, loops, cg)

    if callgrind:
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
                        ratio = meds[b] / best if best > 0 else 1.0
                        row.append(f"{fmt(meds[b])} ({ratio:.2f}x)")
                out.append(f"| {name} | " + " | ".join(row) + " |")
            out.append("")
        indep = [n for n in data if "none" in data[n]]
        if indep:
            out.append("| backend-independent | median |")
            out.append("|---|---|")
            for name in indep:
                s = data[name]["none"]
                out.append(f"| {name} | {'error' if not s.values else fmt(s.median())} |")
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
