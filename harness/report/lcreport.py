#!/usr/bin/env python3
"""lcreport.py: `loopconf report`, the published report (python3 stdlib only, gnuplot for charts).

usage: loopconf report [FILES...] [--out DIR] [--diff OLD NEW] [--readme FILE]

Reads results files of any kind (the kind is told by the file's schema):
  loopconf-run/1            conformance results (loopconf run --json)
  loopconf-bench/1, /2      benchmark results (loopconf bench)
  loopconf-sweep/1          concurrency-model sweeps (loopconf sweep)
  HTTP results              loopconf http's http.json (context + servers)
and writes DIR/index.html (one static page: inline CSS, no scripts, images beside it) and
DIR/report.md with the conformance matrix (one column group per machine), clause coverage, the
benchmark tables (harness/bench/table.py), the sweep and HTTP sections and their charts
(gnuplot, SVG with PNG beside, the machine context in each chart's footer).

Without FILES the published results under results/ are read (results/conformance/*.json,
results/baseline/bench.json and callgrind.json, results/sweep/*.json, results/http/http.json)
and DIR defaults to results/report. The output is deterministic: same inputs, same bytes (no generation time).

--diff OLD NEW   two conformance results (or two benchmark files): the cells that changed
                 verdict, new and vanished tests, changed characteristics (benchmarks: the
                 verdicts of `loopconf compare`); printed, and added to the report when --out
                 is given. Exit 1 when a cell regressed (expected -> unexpected verdict).
--readme FILE    also regenerate FILE's generated blocks (<!-- NAME:begin --> ... <!-- NAME:end -->)
                 from the same files: conformance-table (summary), deviations (every
                 expectations line per library with its verdict, condition, clause and
                 file:line), characteristics, bench-table (table.py --update), bench-agree
                 (table.py's agree over the timed runs beside the baseline), sweep-claims
                 (claims.md beside the sweep) and tasks-table (results/tasks/py_tasks_100k.md).

Results of one kind from several machines (each file's context names its machine) also get a
merged section: a column group and chart series per machine, and `≠` where a cell's standing
(ratio to the best on its machine) differs by more than 1.5x between machines for the same
library version.

Exit status: 0 done; 1 --diff found a regression; 2 bad usage or a malformed results file (one
error line; nothing is written).
"""
import hashlib
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deviations  # noqa: E402  (harness/report/deviations.py)

PROG = "loopconf report"
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
TABLE_PY = os.path.join(SRC, "harness", "bench", "table.py")


def _bench_table_module():
    """harness/bench/table.py as a module: its time format and units, used, not copied."""
    spec = importlib.util.spec_from_file_location("lc_bench_table", TABLE_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BENCH_TABLE = _bench_table_module()
EXPECTED = {"PASS", "XFAIL", "SKIP"}
FAILURES = {"FAIL", "XFAIL", "XPASS", "TIMEOUT", "CRASH", "FLAKY"}


class Bad(Exception):
    pass


def die(msg, code=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


# ---- reading results files ---------------------------------------------------------------------

def need(cond, path, what):
    if not cond:
        raise Bad(f"{path}: {what}")


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise Bad(f"{path}: {e.strerror}")
    except ValueError as e:
        raise Bad(f"{path}: not JSON ({e})")
    need(isinstance(doc, dict), path, "not a results file (the top level is not an object)")
    ctx = doc.get("context")
    need(isinstance(ctx, dict), path, "no context object")
    schema = doc.get("schema")
    if schema == "loopconf-run/1":
        kind = "run"
        cells = doc.get("cells")
        need(isinstance(cells, list), path, "loopconf-run/1 without a cells array")
        for i, c in enumerate(cells):
            need(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in
                                              ("backend", "test", "verdict")),
                 path, f"cell {i} lacks backend, test or verdict")
            need(c["verdict"] in EXPECTED | FAILURES, path,
                 f"cell {i} has an unknown verdict '{c['verdict']}'")
    elif schema in ("loopconf-bench/1", "loopconf-bench/2"):
        kind = "bench"
        need(isinstance(doc.get("benchmarks"), list), path, f"{schema} without benchmarks")
    elif schema == "loopconf-sweep/1":
        kind = "sweep"
        need(isinstance(doc.get("cells"), list), path, "loopconf-sweep/1 without cells")
        for i, c in enumerate(doc["cells"]):
            need(isinstance(c, dict) and isinstance(c.get("stats", {}), dict)
                 and isinstance(c["stats"].get("wall_s", {}) if "stats" in c else {}, dict),
                 path, f"sweep cell {i} is not an object with a stats object")
    elif schema is None and isinstance(doc.get("servers"), list):
        kind = "http"
        for i, s in enumerate(doc["servers"]):
            need(isinstance(s, dict) and isinstance(s.get("name"), str)
                 and isinstance(s.get("cells"), list), path, f"server {i} lacks name or cells")
            need(all(isinstance(c, dict) for c in s["cells"])
                 and isinstance(s.get("open_loop") or [], list)
                 and all(isinstance(o, dict) for o in s.get("open_loop") or []),
                 path, f"server {i} ({s['name']}): a cell or open-loop entry is not an object")
    else:
        raise Bad(f"{path}: unknown results schema {schema!r} (want loopconf-run/1, "
                  "loopconf-bench/1 or /2, loopconf-sweep/1, or loopconf http's http.json)")
    return {"path": path, "kind": kind, "doc": doc, "ctx": ctx}


def rel(path):
    p = os.path.relpath(os.path.abspath(path), SRC)
    return path if p.startswith("..") else p


def default_files():
    out = []
    d = os.path.join(SRC, "results", "conformance")
    if os.path.isdir(d):
        out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".json")]
    for p in ("results/baseline/bench.json", "results/baseline/callgrind.json"):
        if os.path.exists(os.path.join(SRC, p)):
            out.append(os.path.join(SRC, p))
    d = os.path.join(SRC, "results", "sweep")
    if os.path.isdir(d):
        out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".json")]
    if os.path.exists(os.path.join(SRC, "results/http/http.json")):
        out.append(os.path.join(SRC, "results/http/http.json"))
    return out


# ---- machines ----------------------------------------------------------------------------------

def kernel_release(ctx):
    k = str(ctx.get("kernel", "?")).split()
    return k[1] if len(k) > 1 else k[0] if k else "?"


def machine_key(ctx):
    """What makes two results files come from different machines: the CPU, the kernel, the
    compiler and build, and the time multiplier the run was scaled by. (Not the kernel's CPU
    mitigations: older files lack them, and the kernel build tells boots apart.)"""
    parts = [str(ctx.get(k, "?")) for k in ("cpu_model", "kernel", "compiler", "build_type")]
    parts[2] = parts[2].split(" / ")[0]  # bench records "C compiler / C++ compiler"
    parts.append(mult_text(ctx) if ctx.get("time_multiplier") is not None else "1")
    return "\x1f".join(parts)


def machine_names(files):
    """{machine key: 'm1', 'm2', ...} over every results file given, in the order of their
    labels, so a machine has one name in every section of the report."""
    keys = {}
    for f in files:
        k = machine_key(f["ctx"])
        keys.setdefault(k, machine_label(f["ctx"]))
    return {k: f"m{i + 1}" for i, k in enumerate(sorted(keys, key=lambda k: keys[k] + k))}


def machine_label(ctx):
    return (f"{ctx.get('cpu_model', '?')}, {kernel_release(ctx)}, "
            f"x{mult_text(ctx) if ctx.get('time_multiplier') is not None else 1}")


def context_line(ctx):
    """The one-line machine context of a chart footer and a section header."""
    cpus = ctx.get("num_cpus", ctx.get("cpus", "?"))
    commit = str(ctx.get("git_commit", "?"))
    commit = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")
    return (f"{ctx.get('cpu_model', '?')}, {cpus} CPUs, Linux {kernel_release(ctx)}, "
            f"{ctx.get('compiler', '?')}, {ctx.get('build_type', '?')}, commit {commit}, "
            f"time multiplier {mult_text(ctx)}, {str(ctx.get('date', '?'))[:10]}"
            + load_text(ctx) + syscall_text(ctx))


def syscall_text(ctx):
    """', a system call 588 ns' when the file recorded what one cost (context.syscall_ns)."""
    ns = ctx.get("syscall_ns")
    return f", a system call {ns:.0f} ns" if isinstance(ns, (int, float)) and ns > 0 else ""


def load_text(ctx):
    """', load 5.2 (1 min)' when the file recorded the machine's load average."""
    la = ctx.get("load_avg")
    if isinstance(la, list) and la and isinstance(la[0], (int, float)):
        return f", load {la[0]:.1f} (1 min)"
    return ""


def mult_text(ctx):
    """The recorded time multiplier, or 'not recorded' (files older than the shared context)."""
    m = ctx.get("time_multiplier")
    try:
        return f"{float(m):g}"
    except (TypeError, ValueError):
        return "not recorded" if m is None else str(m)


# ---- gnuplot -----------------------------------------------------------------------------------

class Charts:
    def __init__(self, outdir):
        self.outdir = outdir
        self.made = []

    def plot(self, name, title, footer, script, data, bmargin=6, height=480):
        """Draw name.svg and name.png from data (text) with the gnuplot script body."""
        dat = os.path.join(self.outdir, name + ".dat")
        with open(dat, "w", encoding="utf-8") as f:
            f.write(data)
        # one footer line per machine: gnuplot's "\n" in a double-quoted string
        feet = footer.replace('"', "'").split("\n")
        foot = "\\n".join(feet)
        bmargin += len(feet) - 1
        common = (f'set title "{title}"\n'
                  f'set label 99 "{foot}" at screen 0.01, screen {0.025 + 0.02 * (len(feet) - 1):.3f}'
                  f' font ",8"\n'
                  f'set bmargin {bmargin}\nset key outside right top\nset grid ytics\n')
        for term, ext in ((f'svg size 960,{height} font "sans,11" background "#ffffff"', "svg"),
                          (f'pngcairo size 960,{height} font "sans,10"', "png")):
            gp = (f"set terminal {term}\nset termoption noenhanced\nset output '{name}.{ext}'\n{common}"
                  + script.replace("DATA", f"'{name}.dat'") + "\nunset output\n")
            r = subprocess.run(["gnuplot"], input=gp, text=True, cwd=self.outdir,
                               capture_output=True)
            if r.returncode != 0:
                raise Bad(f"gnuplot failed on chart {name}: {r.stderr.strip().splitlines()[-1:]}")
        self.made.append(name)
        return name


def gp_str(s):
    return str(s).replace('"', "'")


# ---- conformance -------------------------------------------------------------------------------

class Column:
    def __init__(self, mkey, mlabel, backend, version):
        self.mkey, self.mlabel, self.backend, self.version = mkey, mlabel, backend, version
        self.cells = {}  # test -> cell


def conformance_model(runs, names=None):
    machines = {}   # mkey -> (label, ctx, [files])
    columns = {}    # (mkey, backend) -> Column
    tests = {}      # test -> clauses
    clauses = {}    # id -> (file, ntests)
    expectations = {}  # backend -> its expectations file as the run named it
    for r in runs:
        ctx = r["ctx"]
        mk = machine_key(ctx)
        machines.setdefault(mk, [machine_label(ctx), ctx, []])[2].append(rel(r["path"]))
        for c in r["doc"]["cells"]:
            key = (mk, c["backend"])
            col = columns.get(key)
            if col is None:
                col = columns[key] = Column(mk, machines[mk][0], c["backend"],
                                            str(c.get("backend_version", "?")))
            col.cells[c["test"]] = c
            tests.setdefault(c["test"], " ".join(c.get("clauses") or []))
        for b in r["doc"].get("backends") or []:
            if isinstance(b, dict) and isinstance(b.get("name"), str):
                expectations.setdefault(b["name"], str(b.get("expectations") or ""))
        for cl in r["doc"].get("spec_clauses") or []:
            if isinstance(cl, dict) and isinstance(cl.get("id"), str):
                clauses[cl["id"]] = (cl.get("file", "?"), cl.get("tests", 0))
    # Machines get short names m1, m2, ... in the order of their labels (deterministic), the
    # same over every kind of results file when names (machine_names) is given.
    mname = names or machine_names(runs)
    mkeys = sorted(machines, key=lambda k: int(mname[k][1:]))
    order = {"reference": 0, "libuv": 1, "libev": 2, "libevent": 3}
    cols = sorted(columns.values(), key=lambda c: (mkeys.index(c.mkey),
                                                   order.get(c.backend, 9), c.backend))
    # A cell differs between machines when the same backend at the same version got different
    # verdicts on them.
    differs = set()
    byver = {}
    for c in cols:
        byver.setdefault((c.backend, c.version), []).append(c)
    for group in byver.values():
        if len(group) < 2:
            continue
        for t in tests:
            vs = {c.cells[t]["verdict"] for c in group if t in c.cells}
            if len(vs) > 1:
                for c in group:
                    differs.add((id(c), t))
    return {"machines": machines, "mkeys": mkeys, "mname": mname, "cols": cols,
            "tests": sorted(tests), "clauses_of": tests, "clauses": clauses, "differs": differs,
            "expectations": expectations}


def short_verdict(v):
    return {"PASS": "pass", "XFAIL": "xfail", "SKIP": "skip"}.get(v, v)


def deviation_tables(model, link_prefix):
    """(markdown, html) of the per-library deviation table (harness/report/deviations.py)."""
    try:
        return deviations.render(deviations.model(model, SRC), link_prefix, esc)
    except (deviations.BadExpect, OSError) as e:
        raise Bad(str(e))


def conformance_sections(model):
    """(markdown, html) of the conformance matrix, reasons, characteristics and coverage."""
    cols, tests, mname = model["cols"], model["tests"], model["mname"]
    md, h = [], []
    md.append("## Conformance\n")
    h.append('<section id="conformance"><h2>Conformance</h2>')
    md.append("Machines:\n")
    h.append("<p>Machines:</p><ul>")
    for k in model["mkeys"]:
        label, ctx, files = model["machines"][k]
        md.append(f"- **{mname[k]}**: {context_line(ctx)} ({', '.join(files)})")
        h.append(f"<li><b>{mname[k]}</b>: {esc(context_line(ctx))} "
                 f"(<code>{esc(', '.join(files))}</code>)</li>")
    md.append("")
    h.append("</ul>")
    # Notes: each failing cell (expected or not) gets a numbered reason.
    notes, note_of, same = [], {}, {}
    for t in tests:
        for c in cols:
            cell = c.cells.get(t)
            if cell and cell["verdict"] in FAILURES:
                # one note for the same verdict and reason of a backend on several machines
                key = (t, c.backend, cell["verdict"], one_line(cell.get("reason") or ""))
                if key not in same:
                    notes.append((t, c, cell, []))
                    same[key] = len(notes)
                notes[same[key] - 1][3].append(mname[c.mkey])
                note_of[(id(c), t)] = same[key]
    head = [f"{mname[c.mkey]} {c.backend}" for c in cols]
    md.append("Verdicts per test and backend (`!` unexpected, `≠` differs between machines for "
              "the same backend version, `[n]` the reason below).\n")
    md.append("| test | clauses | " + " | ".join(head) + " |")
    md.append("|---|---|" + "---|" * len(cols))
    h.append('<p>Verdicts per test and backend. <span class="unexpected">Unexpected</span> '
             'verdicts, <span class="xfail">expected failures</span>, and cells that '
             '<span class="differs">differ between machines</span> for the same backend '
             'version are marked; [n] links to the reason.</p>')
    h.append('<div class="scroll"><table id="matrix" class="matrix"><thead><tr>'
             '<th rowspan="2">test</th><th rowspan="2" class="clauses">clauses</th>')
    for k in model["mkeys"]:
        n = sum(1 for c in cols if c.mkey == k)
        h.append(f'<th colspan="{n}" class="machine" title="{esc(model["machines"][k][0])}">'
                 f'{mname[k]}</th>')
    h.append("</tr><tr>")
    for c in cols:
        h.append(f'<th class="backend" title="{esc(c.version)}">{esc(c.backend)}'
                 f'<br><span class="ver">{esc(c.version)}</span></th>')
    h.append("</tr></thead><tbody>")
    for t in tests:
        row_md, row_h = [], []
        for c in cols:
            cell = c.cells.get(t)
            if not cell:
                row_md.append("")
                row_h.append('<td class="absent">-</td>')
                continue
            v = cell["verdict"]
            mark = "" if v in EXPECTED else "!"
            diff = (id(c), t) in model["differs"]
            n = note_of.get((id(c), t))
            ref = f" [{n}]" if n else ""
            row_md.append(f"{short_verdict(v)}{mark}{' ≠' if diff else ''}{ref}")
            cls = ["v-" + v.lower()] + (["differs"] if diff else [])
            title = cell.get("reason") or ""
            link = f' <a href="#note-{n}">[{n}]</a>' if n else ""
            row_h.append(f'<td class="{" ".join(cls)}" title="{esc(title)}">'
                         f'{esc(short_verdict(v))}{link}</td>')
        cl = model["clauses_of"][t]
        md.append(f"| `{t}` | {cl} | " + " | ".join(row_md) + " |")
        h.append(f'<tr class="test"><th class="tname"><code>{esc(t)}</code></th>'
                 f'<td class="clauses">{esc(cl)}</td>{"".join(row_h)}</tr>')
    md.append("")
    h.append("</tbody></table></div>")
    dtests = sorted({t for t in tests for c in cols if (id(c), t) in model["differs"]})
    if len(model["mkeys"]) > 1:
        line = (f"Tests whose verdict differs between machines for the same backend version: "
                f"{len(dtests)}" + (" (" + ", ".join(f"`{t}`" for t in dtests) + ")."
                                    if dtests else "."))
        md.append(line + "\n")
        h.append(md_to_html(line))
    # Summary per column.
    md.append("| machine | backend | version | pass | xfail | skip | unexpected |")
    md.append("|---|---|---|---:|---:|---:|---:|")
    h.append('<h3>Summary</h3><table class="summary"><tr><th>machine</th><th>backend</th>'
             '<th>version</th><th>pass</th><th>xfail</th><th>skip</th><th>unexpected</th></tr>')
    for c in cols:
        vs = [cell["verdict"] for cell in c.cells.values()]
        p, x, s = vs.count("PASS"), vs.count("XFAIL"), vs.count("SKIP")
        u = len(vs) - p - x - s
        md.append(f"| {mname[c.mkey]} | {c.backend} | {c.version} | {p} | {x} | {s} | {u} |")
        h.append(f"<tr><td>{mname[c.mkey]}</td><td>{esc(c.backend)}</td><td>{esc(c.version)}"
                 f"</td><td>{p}</td><td>{x}</td><td>{s}</td>"
                 f'<td class="{"v-fail" if u else ""}">{u}</td></tr>')
    md.append("")
    h.append("</table>")
    if notes:
        md.append("### Failures and expected failures\n")
        h.append("<h3>Failures and expected failures</h3><ol class=\"notes\">")
        for i, (t, c, cell, where) in enumerate(notes, 1):
            exp = cell.get("expected")
            why = one_line(cell.get("reason") or (exp or {}).get("reason") or "no reason recorded")
            on = ", ".join(where)
            md.append(f"{i}. `{t}` on {on} {c.backend}: **{cell['verdict']}**: {why}")
            h.append(f'<li id="note-{i}"><code>{esc(t)}</code> on {esc(on)} '
                     f'{esc(c.backend)}: <b class="v-{cell["verdict"].lower()}">'
                     f'{cell["verdict"]}</b>: {esc(why)}</li>')
        md.append("")
        h.append("</ol>")
    # Deviations: every expectations line per library, with its verdict here and its source.
    a, b = deviation_tables(model, None)
    md += ["### Deviations per library\n", a]
    h += ["<h3>Deviations per library</h3>", b]
    # Characteristics: what each backend does where the contract lets backends differ.
    keys = sorted({k for c in cols for cell in c.cells.values()
                   for k in (cell.get("characteristics") or {})})
    if keys:
        md.append("### Characteristics per backend\n")
        md.append("| characteristic | " + " | ".join(head) + " |")
        md.append("|---|" + "---|" * len(cols))
        h.append('<h3>Characteristics per backend</h3><div class="scroll"><table class="chars">'
                 "<tr><th>characteristic</th>" +
                 "".join(f"<th>{esc(x)}</th>" for x in head) + "</tr>")
        for k in keys:
            vals = []
            for c in cols:
                vs = sorted({one_line(cell["characteristics"][k]) for cell in c.cells.values()
                             if k in (cell.get("characteristics") or {})})
                vals.append("; ".join(vs))
            md.append(f"| {k} | " + " | ".join(v.replace("|", "/") for v in vals) + " |")
            h.append(f"<tr><th>{esc(k)}</th>" + "".join(f"<td>{esc(v)}</td>" for v in vals)
                     + "</tr>")
        md.append("")
        h.append("</table></div>")
    # Coverage.
    cl = model["clauses"]
    if cl:
        bare = sorted(i for i, (f, n) in cl.items() if not n)
        md.append("### Clause coverage\n")
        md.append(f"{len(cl) - len(bare)} of {len(cl)} spec clauses have a test."
                  + (" Clauses without a test: " + ", ".join(f"`{b}`" for b in bare) + "."
                     if bare else ""))
        md.append("")
        h.append(f"<h3>Clause coverage</h3><p>{len(cl) - len(bare)} of {len(cl)} spec clauses "
                 "have a test." + (" Clauses without a test: " + ", ".join(
                     f"<code>{esc(b)}</code>" for b in bare) + "." if bare else "") + "</p>")
    h.append("</section>")
    return "\n".join(md), "\n".join(h)


def conformance_readme(model):
    """The README's conformance summary table."""
    out = ["| machine | backend | version | pass | xfail | skip | unexpected |",
           "|---|---|---|---:|---:|---:|---:|"]
    for c in model["cols"]:
        vs = [cell["verdict"] for cell in c.cells.values()]
        p, x, s = vs.count("PASS"), vs.count("XFAIL"), vs.count("SKIP")
        out.append(f"| {model['mname'][c.mkey]} | {c.backend} | {c.version} | {p} | {x} | {s} | "
                   f"{len(vs) - p - x - s} |")
    out.append("")
    for k in model["mkeys"]:
        out.append(f"{model['mname'][k]}: {context_line(model['machines'][k][1])}.")
    return "\n".join(out)


# ---- benchmarks --------------------------------------------------------------------------------

UNIT_NS = BENCH_TABLE.UNIT_NS


def bench_table(path):
    r = subprocess.run([sys.executable, TABLE_PY, path], capture_output=True, text=True)
    if r.returncode != 0:
        raise Bad(f"{path}: table.py failed: {r.stderr.strip()}")
    return r.stdout.strip()


def bench_medians(doc):
    """(benchmark -> backend -> median ns) from the per-repetition or per-round entries."""
    vals = {}
    for e in doc["benchmarks"]:
        if not isinstance(e, dict) or e.get("run_type") == "aggregate" or e.get("error_occurred"):
            continue
        t, unit = e.get("real_time"), e.get("time_unit", "ns")
        name, be = e.get("run_name") or e.get("name"), e.get("backend")
        if isinstance(t, (int, float)) and unit in UNIT_NS and isinstance(name, str) \
                and isinstance(be, str):
            vals.setdefault(name, {}).setdefault(be, []).append(t * UNIT_NS[unit])
    med = {}
    for n in sorted(vals):
        for b in sorted(vals[n]):
            v = sorted(vals[n][b])
            m = len(v)
            med.setdefault(n, {})[b] = v[m // 2] if m % 2 else (v[m // 2 - 1] + v[m // 2]) / 2
    return med


def bench_section(r, idx, charts):
    doc = r["doc"]
    md = [f"## Benchmarks: {rel(r['path'])}\n", bench_table(r["path"]), ""]
    h = [f'<section class="bench"><h2>Benchmarks: <code>{esc(rel(r["path"]))}</code></h2>',
         md_to_html(md[1])]
    if doc["context"].get("mode") != "callgrind":
        med = bench_medians(doc)
        loops = [b for b in ("reference", "libuv", "libev", "libevent")
                 if any(b in med[n] for n in med)]
        loops += sorted({b for n in med for b in med[n]} - set(loops) - {"none"})
        names = [n for n in med if n.startswith("loop.") or n.startswith("runtime.")]
        names = [n for n in names if sum(1 for b in loops if b in med[n]) >= 2]
        if names and loops:
            rows = []
            for n in names:
                best = min(med[n][b] for b in loops if b in med[n])
                rows.append(gp_str(n).replace(" ", "_") + " " + " ".join(
                    f"{med[n][b] / best:.4f}" if b in med[n] else "NaN" for b in loops))
            script = ("set style data histograms\nset style histogram clustered gap 1\n"
                      "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
                      "set ylabel 'median time / best backend (log scale, lower is better)'\n"
                      "set logscale y\nset yrange [0.9:*]\n"
                      "set xtics rotate by 35 right font ',8'\n"
                      "plot " + ", ".join(f"DATA using {i + 2}:xtic(1) title '{b}'"
                                          for i, b in enumerate(loops)))
            name = charts.plot(f"bench-{idx}", "Benchmarks: ratio to the best backend",
                               context_line(doc["context"]),
                               script, "\n".join(rows) + "\n", bmargin=12, height=600)
            md.append(f"![benchmark ratios]({name}.svg)\n")
            h.append(figure(name, "Benchmark medians as a ratio to the best backend"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h)


# ---- sweep -------------------------------------------------------------------------------------

def sweep_section(r, idx, charts):
    doc, ctx = r["doc"], r["ctx"]
    cells = [c for c in doc["cells"] if isinstance(c, dict)]
    workloads = []
    for c in cells:
        if c.get("workload") not in workloads:
            workloads.append(c.get("workload"))
    md = [f"## Sweep: {rel(r['path'])}\n",
          "Median wall time per cell vs N (fresh child per cell); `busy` = the machine's load "
          "was above its CPU count when the cell ran.\n"]
    h = [f'<section class="sweep"><h2>Sweep: <code>{esc(rel(r["path"]))}</code></h2>',
         md_to_html(md[1].strip())]
    for w in workloads:
        wc = [c for c in cells if c.get("workload") == w]
        models = []
        for c in wc:
            if c.get("model") not in models:
                models.append(c.get("model"))
        ns = sorted({c.get("n") for c in wc if isinstance(c.get("n"), int)})
        md.append(f"### {w}\n")
        md.append("| model | " + " | ".join(f"N={n}" for n in ns) + " |")
        md.append("|---|" + "---:|" * len(ns))
        h.append(f"<h3>{esc(str(w))}</h3>")
        hrows = []
        series = []
        for m in models:
            row, pts = [], []
            for n in ns:
                c = next((c for c in wc if c.get("model") == m and c.get("n") == n), None)
                if c is None:
                    row.append("")
                    continue
                st = c.get("status")
                wall = ((c.get("stats") or {}).get("wall_s") or {}).get("median")
                if st == "ok" and isinstance(wall, (int, float)):
                    row.append(f"{wall:.4g} s" + (" busy" if c.get("busy") else ""))
                    pts.append((n, wall))
                else:
                    row.append(str(st or "?"))
            md.append(f"| {m} | " + " | ".join(row) + " |")
            hrows.append(f"<tr><th>{esc(str(m))}</th>" +
                         "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>")
            if pts:
                series.append((m, pts))
        md.append("")
        h.append('<div class="scroll"><table><tr><th>model</th>' +
                 "".join(f"<th>N={n}</th>" for n in ns) + "</tr>" + "".join(hrows) +
                 "</table></div>")
        if series and len(ns) > 1:
            data = "\n\n\n".join("\n".join(f"{n} {v:.9g}" for n, v in pts)
                                 for _, pts in series) + "\n"
            script = ("set logscale xy\nset xlabel 'N'\nset ylabel 'wall time (s)'\n"
                      "plot " + ", ".join(f"DATA index {i} using 1:2 with linespoints title "
                                          f"'{gp_str(m)}'" for i, (m, _) in enumerate(series)))
            name = charts.plot(f"sweep-{idx}-{re.sub('[^a-z0-9]+', '-', str(w).lower())}",
                               f"Sweep: {gp_str(w)}, wall time vs N", context_line(ctx),
                               script, data)
            md.append(f"![sweep {w}]({name}.svg)\n")
            h.append(figure(name, f"Sweep {w}: wall time vs N"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h)


# ---- HTTP --------------------------------------------------------------------------------------

def http_section(r, idx, charts):
    doc, ctx = r["doc"], r["ctx"]
    servers = doc["servers"]
    levels = sorted({c.get("connections") for s in servers for c in s["cells"]
                     if isinstance(c.get("connections"), int)})
    md = [f"## HTTP: {rel(r['path'])}\n",
          "Requests/s under wrk (closed loop; median of the runs, ratio to the best server at "
          "that level, `~` spread above 10%, `FAILED` any wrk error).\n",
          "| server | " + " | ".join(f"c={n}" for n in levels) + " |",
          "|---|" + "---:|" * len(levels)]
    best = {n: max([c.get("rps_median") or 0 for s in servers for c in s["cells"]
                    if c.get("connections") == n] or [0]) for n in levels}
    hrows = []
    for s in servers:
        row = []
        for n in levels:
            c = next((c for c in s["cells"] if c.get("connections") == n), None)
            if not c or not isinstance(c.get("rps_median"), (int, float)):
                row.append("")
                continue
            x = f"{c['rps_median']:.0f} ({c['rps_median'] / best[n]:.2f})" if best[n] else "0"
            if (c.get("spread") or 0) > 0.10:
                x += " ~"
            if c.get("failed"):
                x += " FAILED"
            row.append(x)
        md.append(f"| {s['name']} | " + " | ".join(row) + " |")
        hrows.append(f"<tr><th>{esc(s['name'])}</th>" +
                     "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>")
    md.append("")
    h = [f'<section class="http"><h2>HTTP: <code>{esc(rel(r["path"]))}</code></h2>',
         md_to_html(md[1].strip()),
         '<div class="scroll"><table><tr><th>server</th>' +
         "".join(f"<th>c={n}</th>" for n in levels) + "</tr>" + "".join(hrows) + "</table></div>"]
    # open-loop p99
    loads = sorted({o.get("load") for s in servers for o in (s.get("open_loop") or [])
                    if isinstance(o.get("load"), (int, float))})
    if loads:
        md.append("Open-loop p99 latency (constant-rate client, range over the runs):\n")
        md.append("| server | " + " | ".join(f"{l:.0%} of peak" for l in loads) + " |")
        md.append("|---|" + "---:|" * len(loads))
        h.append("<p>Open-loop p99 latency (constant-rate client, range over the runs):</p>"
                 '<div class="scroll"><table><tr><th>server</th>' +
                 "".join(f"<th>{l:.0%} of peak</th>" for l in loads) + "</tr>")
        for s in servers:
            row = []
            for l in loads:
                o = next((o for o in (s.get("open_loop") or []) if o.get("load") == l), None)
                lo, hi = (o or {}).get("p99_min_us"), (o or {}).get("p99_max_us")
                row.append(f"{lo / 1000:.1f}-{hi / 1000:.1f} ms"
                           if isinstance(lo, (int, float)) and isinstance(hi, (int, float))
                           else "")
            md.append(f"| {s['name']} | " + " | ".join(row) + " |")
            h.append(f"<tr><th>{esc(s['name'])}</th>" +
                     "".join(f"<td>{esc(x)}</td>" for x in row) + "</tr>")
        md.append("")
        h.append("</table></div>")
    series = []
    for s in servers:
        pts = [(c["connections"], c["rps_median"]) for c in s["cells"]
               if isinstance(c.get("connections"), int)
               and isinstance(c.get("rps_median"), (int, float))]
        if pts:
            series.append((s["name"], sorted(pts)))
    if series:
        data = "\n\n\n".join("\n".join(f"{n} {v:.6g}" for n, v in pts) for _, pts in series)
        script = ("set logscale x 2\nset xlabel 'connections'\nset ylabel 'requests/s'\n"
                  "set yrange [0:*]\nplot " +
                  ", ".join(f"DATA index {i} using 1:2 with linespoints title '{gp_str(m)}'"
                            for i, (m, _) in enumerate(series)))
        name = charts.plot(f"http-{idx}-rps", "HTTP: requests/s vs connections (wrk)",
                           context_line(ctx), script, data + "\n")
        md.append(f"![HTTP requests/s]({name}.svg)\n")
        h.append(figure(name, "HTTP requests/s vs connections"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h)


# ---- diff --------------------------------------------------------------------------------------

def conformance_diff(old, new):
    """(markdown lines, regressed?) for two conformance results files."""
    def cells(r):
        return {(c["backend"], c["test"]): c for c in r["doc"]["cells"]}
    a, b = cells(old), cells(new)
    out, regressed = [], False
    ta, tb = {t for _, t in a}, {t for _, t in b}
    changed = []
    for k in sorted(set(a) & set(b)):
        va, vb = a[k]["verdict"], b[k]["verdict"]
        if va != vb:
            reg = va in EXPECTED and vb not in EXPECTED
            regressed |= reg
            changed.append(f"| `{k[1]}` | {k[0]} | {va} | {vb} | "
                           f"{'**regression**' if reg else 'fixed' if vb in EXPECTED else ''} | "
                           f"{one_line(b[k].get('reason') or '').replace('|', '/')} |")
    out.append(f"Old: `{rel(old['path'])}` ({context_line(old['ctx'])}); "
               f"new: `{rel(new['path'])}` ({context_line(new['ctx'])}).\n")
    if changed:
        out += ["| test | backend | old | new | change | reason (new) |",
                "|---|---|---|---|---|---|"] + changed + [""]
    else:
        out.append("No cell changed verdict.\n")
    for what, ts in (("New tests", sorted(tb - ta)), ("Vanished tests", sorted(ta - tb))):
        if ts:
            out.append(f"{what}: " + ", ".join(f"`{t}`" for t in ts) + ".\n")
    ba, bb = {x for x, _ in a}, {x for x, _ in b}
    for what, bs in (("New backends", sorted(bb - ba)), ("Vanished backends", sorted(ba - bb))):
        if bs:
            out.append(f"{what}: " + ", ".join(bs) + ".\n")
    ch = []
    for k in sorted(set(a) & set(b)):
        ca, cb = a[k].get("characteristics") or {}, b[k].get("characteristics") or {}
        for key in sorted(set(ca) | set(cb)):
            if ca.get(key) != cb.get(key):
                ch.append(f"| `{k[1]}` | {k[0]} | {key} | {one_line(ca.get(key, '-'))} | "
                          f"{one_line(cb.get(key, '-'))} |")
    if ch:
        out += ["Changed characteristics:\n", "| test | backend | characteristic | old | new |",
                "|---|---|---|---|---|"] + ch + [""]
    return out, regressed


def bench_diff(old, new, exe_dir):
    tool = os.path.join(exe_dir, "loopconf-bench") if exe_dir else None
    if not tool or not os.access(tool, os.X_OK):
        raise Bad(f"--diff of benchmark files needs loopconf-bench next to loopconf "
                  f"({tool or 'no exe dir'})")
    r = subprocess.run([tool, "compare", old["path"], new["path"]], capture_output=True,
                       text=True)
    if r.returncode not in (0, 1):
        raise Bad(f"compare failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    text = (r.stdout + r.stderr).rstrip()
    return ([f"`loopconf compare {rel(old['path'])} {rel(new['path'])}`"
             f" (exit {r.returncode}):\n", "```text", text, "```", ""], r.returncode == 1)


# ---- html helpers ------------------------------------------------------------------------------

def esc(s):
    return html.escape(str(s), quote=True)


def one_line(s):
    return " ".join(str(s).split())


def figure(name, alt):
    return (f'<figure><a href="{name}.svg"><img src="{name}.svg" alt="{esc(alt)}" '
            f'width="960" height="480"></a><figcaption>{esc(alt)} '
            f'(<a href="{name}.png">PNG</a>, <a href="{name}.dat">data</a>)</figcaption></figure>')


def md_to_html(text):
    """The markdown table.py writes (paragraphs, pipe tables, '- ' items) as HTML."""
    out, rows, items = [], [], []

    def inline(s):
        s = esc(s)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)

    def flush():
        if rows:
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            body = [r for r in cells[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            out.append('<div class="scroll"><table><tr>' +
                       "".join(f"<th>{inline(c)}</th>" for c in cells[0]) + "</tr>" +
                       "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>"
                               for r in body) + "</table></div>")
            rows.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
    pre = None
    for line in text.splitlines():
        if line.startswith("```"):
            if pre is None:
                flush()
                pre = []
            else:
                out.append("<pre>" + esc("\n".join(pre)) + "</pre>")
                pre = None
            continue
        if pre is not None:
            pre.append(line)
            continue
        if line.startswith("|"):
            rows.append(line)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        if line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    return "\n".join(out)


CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .45em;text-align:left;vertical-align:top}
thead th{background:#f2f2f2;position:sticky;top:0}
.scroll{overflow-x:auto;max-width:100%}
.matrix td{text-align:center;white-space:nowrap}
.matrix .tname{white-space:nowrap;font-weight:normal}
.matrix td.clauses{font-size:.75em;color:#555;min-width:14em;max-width:20em;white-space:normal;text-align:left;
overflow-wrap:anywhere}
.ver{font-weight:normal;font-size:.8em;color:#555}
.v-pass{background:#dff0d8}.v-xfail{background:#fcf3cf}.v-skip{background:#eee}
.v-fail,.v-timeout,.v-crash,.v-xpass,.v-flaky{background:#f5c6cb;font-weight:bold}
.unexpected{background:#f5c6cb}.xfail{background:#fcf3cf}
.deviations td{white-space:normal;min-width:7em;text-align:left}
.merged td{white-space:nowrap;text-align:right}
.differs{outline:3px solid #8e44ad;outline-offset:-3px}
span.differs{padding:0 .2em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
code{font-size:.9em}pre{overflow-x:auto;font-size:.8em;background:#f6f6f6;padding:.5em}.notes li{margin:.2em 0}
@media (max-width:700px){body{padding:0 .4em}.matrix .clauses{display:none}table{font-size:.75em}}
"""


# ---- many machines, one report: benchmarks, sweeps and HTTP -----------------------------------

NOTABLE = 1.5  # a standing (value / the best on the same machine) differing by more than this


def merged_table(rows, cols, groups, values, version, lower_better, fmt, rowhead,
                 by_column=True):
    """(markdown, html, notable cells) of one table with a column group per machine.

    groups: [(group id, machine name)]; values[(group, row, col)] = number; version[(group,
    row, col)] = what must be equal for two machines to be compared (the library version run).
    A cell is notable when its standing (value / the best row of that column on that machine)
    and another machine's standing for the same row, column and version differ by more than
    NOTABLE: raw numbers of different CPUs are not comparable, rankings are. The best is the
    best row of the column (by_column) or the best column of the row."""
    stand = {}
    for g, _ in groups:
        # the best is among the rows of a column (by_column) or the columns of a row
        lines = ([[(r, c) for r in rows] for c in cols] if by_column else
                 [[(r, c) for c in cols] for r in rows])
        for line in lines:
            vs = [values[(g, r, c)] for r, c in line if (values.get((g, r, c)) or 0) > 0]
            if not vs:
                continue
            best = min(vs) if lower_better else max(vs)
            for r, c in line:
                v = values.get((g, r, c))
                if v and v > 0:
                    stand[(g, r, c)] = v / best if lower_better else best / v
    notable = set()
    for r in rows:
        for c in cols:
            byver = {}
            for g, _ in groups:
                if (g, r, c) in stand:
                    byver.setdefault(version.get((g, r, c), ""), []).append(g)
            for gs in byver.values():
                mach = {dict(groups)[g] for g in gs}
                if len(mach) < 2:
                    continue
                st = [stand[(g, r, c)] for g in gs]
                if max(st) / min(st) > NOTABLE:
                    notable |= {(g, r, c) for g in gs}
    heads = [(g, m, c) for g, m in groups for c in cols]
    md = [f"| {rowhead} | " + " | ".join(f"{m} {c}" for _, m, c in heads) + " |",
          "|---|" + "---:|" * len(heads)]
    h = ['<div class="scroll"><table class="merged"><thead><tr>'
         f'<th rowspan="2">{esc(rowhead)}</th>' +
         "".join(f'<th colspan="{len(cols)}" class="machine">{esc(m)}</th>' for _, m in groups) +
         "</tr><tr>" + "".join(f"<th>{esc(c)}</th>" for _ in groups for c in cols) +
         "</tr></thead><tbody>"]
    for r in rows:
        mr, hr = [], []
        for g, _, c in heads:
            v = values.get((g, r, c))
            if v is None:
                mr.append("")
                hr.append("<td></td>")
                continue
            t = fmt(v) + (f" ({stand[(g, r, c)]:.2f}x)" if (g, r, c) in stand else "")
            mark = (g, r, c) in notable
            mr.append(t + (" ≠" if mark else ""))
            cls = ' class="differs"' if mark else ""
            hr.append(f"<td{cls}>{esc(t)}</td>")
        md.append(f"| {r} | " + " | ".join(mr) + " |")
        h.append(f"<tr><th>{esc(r)}</th>{''.join(hr)}</tr>")
    md.append("")
    h.append("</tbody></table></div>")
    return "\n".join(md), "\n".join(h), notable


def machines_note(groups, ctxs, what):
    lines = [f"{what} from {len({m for _, m in groups})} machines, one column group each "
             f"(value, then its standing: the ratio to the best on that machine; `≠` the "
             f"standing differs by more than {NOTABLE:g}x from another machine's for the same "
             "version):\n"]
    for g, m in groups:
        lines.append(f"- **{m}** (`{g}`): {context_line(ctxs[g])}")
    lines.append("")
    return lines


def group_files(files, names):
    """[(group id, machine name)] for files: one group per file, named by its machine."""
    return [(rel(f["path"]), names[machine_key(f["ctx"])]) for f in files]


def merged_bench(benches, names, charts):
    groups = group_files(benches, names)
    ctxs = {g: f["ctx"] for (g, _), f in zip(groups, benches)}
    vals, ver, backends, rows = {}, {}, [], []
    for (g, _), f in zip(groups, benches):
        med = bench_medians(f["doc"])
        vers = f["ctx"].get("backends") if isinstance(f["ctx"].get("backends"), dict) else {}
        for n in med:
            if not (n.startswith("loop.") or n.startswith("runtime.")):
                continue
            if n not in rows:
                rows.append(n)
            for b, v in med[n].items():
                if b == "none":
                    continue
                if b not in backends:
                    backends.append(b)
                vals[(g, n, b)] = v
                ver[(g, n, b)] = str(vers.get(b, ""))
    order = {"reference": 0, "libuv": 1, "libev": 2, "libevent": 3}
    backends.sort(key=lambda b: (order.get(b, 9), b))
    rows.sort()
    a, b_, notable = merged_table(rows, backends, groups, vals, ver, True, BENCH_TABLE.fmt_time,
                                  "benchmark",
                                  by_column=False)
    md = ["## Benchmarks on several machines\n"] + machines_note(groups, ctxs, "Benchmark medians")
    md.append(a)
    h = ['<section id="bench-machines"><h2>Benchmarks on several machines</h2>',
         md_to_html("\n".join(machines_note(groups, ctxs, "Benchmark medians"))), b_]
    # chart: one series per machine and backend, the standing on that machine
    series = [(g, m, be) for g, m in groups for be in backends
              if any((g, n, be) in vals for n in rows)]
    data = []
    for n in rows:
        row = []
        for g, m, be in series:
            vs = [vals[(g, x, be2)] for (g2, x, be2) in vals if g2 == g and x == n]
            v = vals.get((g, n, be))
            row.append(f"{v / min(vs):.4f}" if v and vs else "NaN")
        data.append(gp_str(n).replace(" ", "_") + " " + " ".join(row))
    if data and series:
        script = ("set style data histograms\nset style histogram clustered gap 1\n"
                  "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
                  "set ylabel 'median / best backend on the machine (log, lower is better)'\n"
                  "set logscale y\nset yrange [0.9:*]\nset xtics rotate by 35 right font ',8'\n"
                  "plot " + ", ".join(f"DATA using {i + 2}:xtic(1) title '{m} {be}' "
                                      f"lc {backends.index(be) + 1}"
                                      + (f" fill pattern {3 + gi}" if gi else "")
                                      for i, (g, m, be) in enumerate(series)
                                      for gi in [[x for x, _ in groups].index(g)]))
        name = charts.plot("bench-machines", "Benchmarks on several machines: ratio to the best "
                           "backend on each machine",
                           "\n".join(f"{m}: {context_line(ctxs[g])}" for g, m in groups),
                           script, "\n".join(data) + "\n", bmargin=12, height=600)
        md.append(f"![benchmarks on several machines]({name}.svg)\n")
        h.append(figure(name, "Benchmark medians on several machines, one series per machine "
                        "and backend"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h), notable


def sweep_version(ctx, model):
    """What a sweep model ran: the package version the context recorded for its library."""
    m = str(model)
    lib = m.split(":", 1)[1] if m.startswith(("task:", "task-copy:")) else m
    key = {"asyncio": "python", "uvloop": "uvloop"}.get(lib, lib)
    return str(ctx.get(key, ""))


def series_plot(charts, name, title, groups, ctxs, series, xlabel, ylabel, logy):
    """A line chart with one series per (label, machine): colour per label, dash per machine."""
    labels = []
    for lab, _, _ in series:
        if lab not in labels:
            labels.append(lab)
    gidx = [g for g, _ in groups]
    data = "\n\n\n".join("\n".join(f"{x} {y:.9g}" for x, y in pts) for _, _, pts in series) + "\n"
    script = (f"set logscale x\n{'set logscale y' if logy else 'set yrange [0:*]'}\n"
              f"set xlabel '{xlabel}'\nset ylabel '{ylabel}'\n"
              "plot " + ", ".join(
                  f"DATA index {i} using 1:2 with linespoints lc {labels.index(lab) + 1} "
                  f"dt {gidx.index(g) + 1} title '{gp_str(lab)} ({dict(groups)[g]})'"
                  for i, (lab, g, _) in enumerate(series)))
    return charts.plot(name, title, "\n".join(f"{m}: {context_line(ctxs[g])}" for g, m in groups),
                       script, data, bmargin=6, height=520)


def merged_sweep(sweeps, names, charts):
    groups = group_files(sweeps, names)
    ctxs = {g: f["ctx"] for (g, _), f in zip(groups, sweeps)}
    workloads = []
    for f in sweeps:
        for c in f["doc"]["cells"]:
            if isinstance(c, dict) and c.get("workload") not in workloads:
                workloads.append(c.get("workload"))
    note = machines_note(groups, ctxs, "Median wall time per cell")
    md = ["## Sweeps on several machines\n"] + note
    h = ['<section id="sweep-machines"><h2>Sweeps on several machines</h2>',
         md_to_html("\n".join(note))]
    notable = set()
    for w in workloads:
        models, ns, vals, ver, series = [], set(), {}, {}, []
        for (g, _), f in zip(groups, sweeps):
            per = {}
            for c in f["doc"]["cells"]:
                if not isinstance(c, dict) or c.get("workload") != w:
                    continue
                m, n = str(c.get("model")), c.get("n")
                if m not in models:
                    models.append(m)
                wall = ((c.get("stats") or {}).get("wall_s") or {}).get("median")
                if isinstance(n, int) and c.get("status") == "ok" and \
                        isinstance(wall, (int, float)):
                    ns.add(n)
                    vals[(g, m, f"N={n}")] = wall
                    ver[(g, m, f"N={n}")] = sweep_version(f["ctx"], m)
                    per.setdefault(m, []).append((n, wall))
            series += [(m, g, sorted(pts)) for m, pts in per.items()]
        cols = [f"N={n}" for n in sorted(ns)]
        a, b, nt = merged_table(models, cols, groups, vals, ver, True,
                                lambda v: f"{v:.4g} s", "model")
        notable |= {(w,) + x for x in nt}
        md += [f"### {w}\n", a]
        h += [f"<h3>{esc(str(w))}</h3>", b]
        if len(ns) > 1 and series:
            slug = re.sub("[^a-z0-9]+", "-", str(w).lower())
            name = series_plot(charts, f"sweep-machines-{slug}",
                               f"Sweep {gp_str(w)} on several machines: wall time vs N", groups,
                               ctxs, series, "N", "wall time (s)", True)
            md.append(f"![sweep {w} on several machines]({name}.svg)\n")
            h.append(figure(name, f"Sweep {w} on several machines: one series per model and "
                            "machine"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h), notable


def merged_http(https, names, charts):
    groups = group_files(https, names)
    ctxs = {g: f["ctx"] for (g, _), f in zip(groups, https)}
    servers, levels, vals, series = [], set(), {}, []
    for (g, _), f in zip(groups, https):
        for sv in f["doc"]["servers"]:
            if sv["name"] not in servers:
                servers.append(sv["name"])
            pts = []
            for c in sv["cells"]:
                n, r = c.get("connections"), c.get("rps_median")
                if isinstance(n, int) and isinstance(r, (int, float)):
                    levels.add(n)
                    vals[(g, sv["name"], f"c={n}")] = r
                    pts.append((n, r))
            if pts:
                series.append((sv["name"], g, sorted(pts)))
    cols = [f"c={n}" for n in sorted(levels)]
    note = machines_note(groups, ctxs, "Requests/s under wrk (median of the runs)")
    a, b, notable = merged_table(servers, cols, groups, vals, {}, False,
                                 lambda v: f"{v:.0f}", "server")
    md = ["## HTTP on several machines\n"] + note + [a]
    h = ['<section id="http-machines"><h2>HTTP on several machines</h2>',
         md_to_html("\n".join(note)), b]
    if series:
        name = series_plot(charts, "http-machines", "HTTP on several machines: requests/s vs "
                           "connections", groups, ctxs, series, "connections", "requests/s",
                           False)
        md.append(f"![HTTP on several machines]({name}.svg)\n")
        h.append(figure(name, "HTTP requests/s on several machines: one series per server and "
                        "machine"))
    h.append("</section>")
    return "\n".join(md), "\n".join(h), notable


def bench_agreement(paths):
    """The README's "do the rankings survive a noisy machine?" tables from timed benchmark
    files of one build (harness/bench/table.py --agree on every pair, in start order)."""
    runs = []
    for p in paths:
        doc = load(p)["doc"]
        if doc["context"].get("mode") == "callgrind":
            continue
        log = [r for r in doc["context"].get("bench_rounds_log") or [] if isinstance(r, dict)]
        runs.append((str(doc["context"].get("date", "")), p, doc, log))
    runs.sort(key=lambda r: r[0])
    if len(runs) < 2:
        return None

    def t(iso):
        return str(iso)[11:19]

    def secs(a, b):
        import datetime
        f = datetime.datetime.fromisoformat
        return int((f(str(b)) - f(str(a))).total_seconds())
    out = ["| run | rounds | first round (UTC) | first to last round start | load average at the "
           "round starts (1 min) | at the end |", "|---|---|---|---|---|---|"]
    for date, p, doc, log in runs:
        la = [r["load_avg"][0] for r in log if isinstance(r.get("load_avg"), list)
              and r["load_avg"] and isinstance(r["load_avg"][0], (int, float))]
        end = doc["context"].get("load_avg_end")
        span = f"{secs(log[0]['start'], log[-1]['start'])} s" if len(log) > 1 else ""
        out.append(f"| `{os.path.basename(p)}` | {len(log) or doc['context'].get('bench_rounds', '?')}"
                   f" | {t(log[0]['start']) if log else t(date)} | {span} | "
                   + (f"{min(la):.1f}-{max(la):.1f}" if la else "") + " | "
                   + (f"{end[0]:.1f}" if isinstance(end, list) and end else "") + " |")
    out += ["", "| comparison | agree (decided by both) | agree, flagged too noisy by one or both"
            " | differ, flagged by both | differ, flagged by one | contradict (both decided) |",
            "|---|---|---|---|---|---|"]
    differ = []
    for i in range(len(runs)):
        for j in range(i + 1, len(runs)):
            (_, p1, d1, _), (_, p2, d2, _) = runs[i], runs[j]
            lines, counts = BENCH_TABLE.agree(d1, d2, p1, p2, only_differences=True)
            name = f"{os.path.basename(p1)} / {os.path.basename(p2)}"
            out.append(f"| {name} | {counts['agree']} | {counts['agree, flagged']} | "
                       f"{counts['differ, flagged by both']} | "
                       f"**{counts['DIFFER, flagged by one']}** | **{counts['CONTRADICT']}** |")
            for l in lines[2:]:
                cells = [c.strip() for c in l.strip("|").split("|")]
                if len(cells) == 5:
                    differ.append(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]}"
                                  f" | {cells[4]} |")
    if differ:
        out += ["", "Rows whose verdicts differ (`?` = flagged too noisy to rank by that run):", "",
                "| comparison | benchmark | pair | first run | second run | |",
                "|---|---|---|---|---|---|"] + differ
    return "\n".join(out)

# ---- the report --------------------------------------------------------------------------------

def build(files, outdir, diff_pair, exe_dir):
    """Write the report into outdir (a fresh directory). Returns (regressed, diff_md)."""
    charts = Charts(outdir)
    runs = [f for f in files if f["kind"] == "run"]
    md = ["# loopconf report\n",
          "Generated by `loopconf report` from: " +
          ", ".join(f"`{rel(f['path'])}`" for f in files) + ".\n"]
    h = []
    toc = []
    if runs:
        model = conformance_model(runs, machine_names(files))
        a, b = conformance_sections(model)
        md.append(a)
        h.append(b)
        toc.append(("conformance", "Conformance"))
    regressed, diff_md = False, []
    if diff_pair:
        old, new = diff_pair
        if old["kind"] == "run":
            diff_md, regressed = conformance_diff(old, new)
        else:
            diff_md, regressed = bench_diff(old, new, exe_dir)
        md.append("## Changes between runs\n")
        md += diff_md
        h.append('<section id="diff"><h2>Changes between runs</h2>' +
                 md_to_html("\n".join(diff_md)) +
                 "</section>")
        toc.append(("diff", "Changes between runs"))
    # Results of one kind from several machines: one merged section with a column group (and
    # chart series) per machine, before the per-file sections.
    names = machine_names(files)
    kinds = (("bench", merged_bench, "bench-machines", "Benchmarks on several machines"),
             ("sweep", merged_sweep, "sweep-machines", "Sweeps on several machines"),
             ("http", merged_http, "http-machines", "HTTP on several machines"))
    for kind, fn, anchor, title in kinds:
        fs = [f for f in files if f["kind"] == kind and f["ctx"].get("mode") != "callgrind"]
        if len({machine_key(f["ctx"]) for f in fs}) > 1:
            a, b, _ = fn(fs, names, charts)
            md.append(a)
            h.append(b)
            toc.append((anchor, title))
    for i, f in enumerate([f for f in files if f["kind"] == "bench"], 1):
        a, b = bench_section(f, i, charts)
        md.append(a)
        h.append(b.replace('<section class="bench">', f'<section class="bench" id="bench-{i}">'))
        toc.append((f"bench-{i}", f"Benchmarks: {rel(f['path'])}"))
    for i, f in enumerate([f for f in files if f["kind"] == "sweep"], 1):
        a, b = sweep_section(f, i, charts)
        md.append(a)
        h.append(b.replace('<section class="sweep">', f'<section class="sweep" id="sweep-{i}">'))
        toc.append((f"sweep-{i}", f"Sweep: {rel(f['path'])}"))
    for i, f in enumerate([f for f in files if f["kind"] == "http"], 1):
        a, b = http_section(f, i, charts)
        md.append(a)
        h.append(b.replace('<section class="http">', f'<section class="http" id="http-{i}">'))
        toc.append((f"http-{i}", f"HTTP: {rel(f['path'])}"))
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<title>loopconf report</title>\n<style>" + CSS + "</style></head><body>\n"
            "<h1>loopconf report</h1>\n<p>" + esc(md[1].strip().replace("`", "")) + "</p>\n"
            "<nav><ul>" + "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in toc) +
            "</ul></nav>\n" + "\n".join(h) + "\n</body></html>\n")
    with open(os.path.join(outdir, "index.html"), "w", encoding="utf-8") as f:
        f.write(page)
    with open(os.path.join(outdir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md).rstrip() + "\n")
    return regressed, diff_md


def update_block(path, begin, end, body):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise Bad(f"{path}: {e.strerror}")
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise Bad(f"{path}: no '{begin}' ... '{end}' block to update")
    text = text[:i + len(begin)] + "\n" + body + "\n" + text[j:]
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    files, out, diff, readme, exe_dir = [], None, None, None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if a in ("--out", "--readme", "--exe-dir"):
            if i + 1 >= len(argv):
                die(f"option '{a}' needs a value")
            if a == "--out":
                out = argv[i + 1]
            elif a == "--readme":
                readme = argv[i + 1]
            else:
                exe_dir = argv[i + 1]
            i += 2
            continue
        if a == "--diff":
            if i + 2 >= len(argv):
                die("--diff wants OLD NEW")
            diff = argv[i + 1:i + 3]
            i += 3
            continue
        if a.startswith("-"):
            die(f"unknown option '{a}' (see loopconf report --help)")
        files.append(a)
        i += 1
    if not files and not diff:
        files = default_files()
        if out is None:
            out = os.path.join(SRC, "results", "report")
        if not files:
            die("no results files given and none published under results/")
    try:
        loaded = [load(p) for p in files]
        pair = None
        if diff:
            pair = [load(p) for p in diff]
            kinds = {p["kind"] for p in pair}
            if kinds not in ({"run"}, {"bench"}):
                raise Bad(f"--diff wants two conformance results or two benchmark files, got "
                          f"{pair[0]['kind']} and {pair[1]['kind']}")
            if pair[0]["kind"] == "run" and pair[1]["path"] not in files:
                loaded.append(pair[1])
        if out is not None:
            parent = os.path.dirname(os.path.abspath(out))
            if not os.path.isdir(parent):
                raise Bad(f"--out {out}: the directory {parent} does not exist")
            if os.path.exists(out) and not os.path.isdir(out):
                raise Bad(f"--out {out}: exists and is not a directory")
        if shutil.which("gnuplot") is None and out is not None:
            raise Bad("gnuplot is not on PATH (scripts/install-deps.sh installs it)")
        regressed = False
        if out is not None:
            # Build into a fresh directory beside DIR and swap it in: no partial report.
            tmp = tempfile.mkdtemp(prefix=".report-", dir=os.path.dirname(os.path.abspath(out)))
            try:
                regressed, diff_md = build(loaded, tmp, pair, exe_dir)
                os.chmod(tmp, 0o755)
                old = None
                if os.path.isdir(out):
                    old = out.rstrip("/") + f".old.{os.getpid()}"
                    os.rename(out, old)
                os.rename(tmp, out)
                if old:
                    shutil.rmtree(old)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        elif pair:
            if pair[0]["kind"] == "run":
                diff_md, regressed = conformance_diff(*pair)
            else:
                diff_md, regressed = bench_diff(*pair, exe_dir)
        if pair:
            print("\n".join(diff_md).rstrip())
        if readme:
            runs = [f for f in loaded if f["kind"] == "run"]
            if runs:
                cm = conformance_model(runs)
                update_block(readme, "<!-- conformance-table:begin -->",
                             "<!-- conformance-table:end -->", conformance_readme(cm))
                update_block(readme, "<!-- deviations:begin -->", "<!-- deviations:end -->",
                             deviation_tables(cm, "")[0].rstrip())
                update_block(readme, "<!-- characteristics:begin -->",
                             "<!-- characteristics:end -->",
                             deviations.characteristics(cm, esc)[0].rstrip())
            sweeps = [f for f in loaded if f["kind"] == "sweep"]
            claims = os.path.join(os.path.dirname(sweeps[0]["path"]), "claims.md") if sweeps else ""
            if claims and os.path.isfile(claims):
                # the claims table `loopconf sweep plot` wrote beside the results, from its table on
                with open(claims, encoding="utf-8") as f:
                    lines = f.read().rstrip("\n").split("\n")
                first = next((i for i, l in enumerate(lines) if l.startswith("|")), None)
                if first is not None:
                    update_block(readme, "<!-- sweep-claims:begin -->", "<!-- sweep-claims:end -->",
                                 "\n".join(lines[first:]))
            benches = [f for f in loaded if f["kind"] == "bench"]
            with open(readme, encoding="utf-8") as f:
                text = f.read()
            wants_agree = "<!-- bench-agree:begin -->" in text
            tasks_md = os.path.join(SRC, "results", "tasks", "py_tasks_100k.md")
            if "<!-- tasks-table:begin -->" in text and os.path.isfile(tasks_md):
                # the table harness/bench/py_tasks.py printed for the published run
                with open(tasks_md, encoding="utf-8") as f:
                    tl = [l for l in f.read().split("\n") if l.startswith("|")]
                if tl:
                    update_block(readme, "<!-- tasks-table:begin -->",
                                 "<!-- tasks-table:end -->", "\n".join(tl))
            if benches and wants_agree:
                # every timed run published beside the baseline, compared pairwise
                d = os.path.dirname(benches[0]["path"])
                body = bench_agreement([os.path.join(d, x) for x in sorted(os.listdir(d))
                                        if x.startswith("bench") and x.endswith(".json")])
                if body:
                    update_block(readme, "<!-- bench-agree:begin -->",
                                 "<!-- bench-agree:end -->", body)
            timed = [f for f in benches if f["doc"]["context"].get("mode") != "callgrind"]
            counted = [f for f in benches if f["doc"]["context"].get("mode") == "callgrind"]
            if timed:
                # instruction counts beside the times (issue 16), when a callgrind file is given
                cg = ["--callgrind", counted[0]["path"]] if counted else []
                r = subprocess.run([sys.executable, TABLE_PY, timed[0]["path"], *cg, "--update",
                                    readme], capture_output=True, text=True)
                if r.returncode != 0:
                    raise Bad(f"table.py --update {readme}: {r.stderr.strip()}")
        return 1 if regressed else 0
    except Bad as e:
        die(str(e))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "report":
        args = args[1:]
    sys.exit(main(args))
