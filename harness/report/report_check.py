#!/usr/bin/env python3
"""report_check.py: CTest checks of `loopconf report` as a user runs it (python3 stdlib only).

usage: report_check.py LOOPCONF SRCDIR WORKDIR CHECK
CHECK: runjson    loopconf run --json: schema, context, expectations, characteristics and pins
       merge      two machines' runs (different time multipliers) in one report, both shown
       machines   benchmark, sweep and HTTP files of two machines (kernel, CPU, multiplier
                  changed) merge into one report: a column group and chart series per
                  machine, planted differences highlighted; a malformed one: exit 2, nothing
       differs    a cell that differs between machines for the same backend version is marked
       diff       --diff: regressions exit 1, new/vanished tests, changed characteristics
       malformed  bad results files: one error line, exit 2, no report (and an old one kept)
       deviations every expectations line per library in the deviation table, with its verdict,
                  version condition, `may` runs, reason and file:line citation (md and html)
       markdown   report.md through cmark-gfm (GitHub's markdown): every table renders
       browser    the merged report in headless Chromium (browser_check.py), screenshots kept
       published  results/report and the README's tables are what the command produces now
"""
import copy
import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

LOOPCONF, SRC, WORK, CHECK = sys.argv[1:5]
TD = os.path.join(SRC, "harness", "report", "testdata")
M1, M2 = os.path.join(TD, "run-m1.json"), os.path.join(TD, "run-m2.json")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print(f"FAIL: {msg}", file=sys.stderr)
    else:
        print(f"ok: {msg}")


def report(*args):
    return subprocess.run([LOOPCONF, "report", *args], capture_output=True, text=True)


def fresh(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def write(name, doc):
    p = os.path.join(WORK, name)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return p


def html_esc(s):
    import html
    return html.escape(s, quote=True)


def read(p):
    with open(p, encoding="utf-8") as f:
        return f.read()


def tree_digest(d):
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(d)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, d).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def other_machine(doc):
    """A results file as another machine would write it: kernel, CPU, time multiplier."""
    d = copy.deepcopy(doc)
    d["context"].update(kernel="Linux 6.1.0-planted #1 SMP x86_64", cpu_model="Planted Xeon",
                        time_multiplier=3.0)
    return d


def machine_files():
    """Benchmark, sweep and HTTP files of two machines, the second with planted differences:
    libev 5x slower at loop.timer_churn, the thread model 4x slower, the first server 3x
    slower. Returns (paths, the slowed server, the documents)."""
    bench = json.load(open(os.path.join(SRC, "results/baseline/bench.json")))
    sweep = json.load(open(os.path.join(TD, "sweep-quick.json")))
    http = json.load(open(os.path.join(SRC, "results/http/http.json")))
    b2, s2, h2 = other_machine(bench), other_machine(sweep), other_machine(http)
    for e in b2["benchmarks"]:
        if e.get("backend") == "libev" and str(e.get("run_name", e.get("name"))) \
                .startswith("loop.timer_churn"):
            e["real_time"] *= 5
    for c in s2["cells"]:
        if c.get("model") == "thread" and c.get("status") == "ok":
            c["stats"]["wall_s"]["median"] *= 4
    slow = h2["servers"][0]["name"]
    for c in h2["servers"][0]["cells"]:
        c["rps_median"] /= 3
    files = [os.path.join(SRC, "results/baseline/bench.json"), write("bench-m2.json", b2),
             os.path.join(TD, "sweep-quick.json"), write("sweep-m2.json", s2),
             os.path.join(SRC, "results/http/http.json"), write("http-m2.json", h2)]
    return files, slow, (bench, sweep, http, b2, s2, h2)


m1 = json.load(open(M1, encoding="utf-8"))
os.makedirs(WORK, exist_ok=True)

if CHECK == "merge":
    out = fresh("merge")
    r = report(M1, M2, os.path.join(SRC, "results/baseline/bench.json"),
               os.path.join(TD, "sweep-quick.json"), os.path.join(SRC, "results/http/http.json"),
               "--out", out)
    check(r.returncode == 0, f"report of two machines exits 0 (got {r.returncode}: {r.stderr})")
    md = read(os.path.join(out, "report.md"))
    page = read(os.path.join(out, "index.html"))
    check(re.search(r"\*\*m1\*\*: .*time multiplier 1,", md) is not None, "m1 (x1) listed")
    check(re.search(r"\*\*m2\*\*: .*time multiplier 3,", md) is not None, "m2 (x3) listed")
    head = next(l for l in md.splitlines() if l.startswith("| test | clauses |"))
    ncols = len(json.load(open(M1))["backends"]) + len(json.load(open(M2))["backends"])
    check(head.count(" m1 ") + head.count(" m2 ") == ncols,
          f"one matrix column per machine and backend ({ncols})")
    check(page.count('class="machine"') == 2, "two machine column groups in the HTML")
    tests = {c["test"] for c in m1["cells"]}
    rows = [l for l in md.splitlines() if l.startswith("| `")]
    check(len([l for l in rows if l.split("|")[1].strip().strip("`") in tests]) == len(tests),
          f"one matrix row per test ({len(tests)})")
    for sec in ("## Benchmarks", "## Sweep", "## HTTP", "### Clause coverage",
                "### Characteristics per backend"):
        check(sec in md, f"section '{sec}' present")
    imgs = re.findall(r'<img src="([^"]+)"', page)
    check(imgs and all(os.path.exists(os.path.join(out, i)) and
                       os.path.exists(os.path.join(out, i[:-4] + ".png")) for i in imgs),
          f"every chart exists as SVG and PNG ({len(imgs)})")
    check(all("AMD" in read(os.path.join(out, i)) or "CPUs" in read(os.path.join(out, i))
              for i in imgs), "every chart carries the machine context in its footer")
    check("<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
          and "https://" not in page, "the page is static: no scripts, nothing remote")

elif CHECK == "machines":
    files, slow, (bench, sweep, http, b2, s2, h2) = machine_files()
    out = fresh("machines")
    r = report(*files, "--out", out)
    check(r.returncode == 0, f"report of two machines' bench, sweep and HTTP files ({r.stderr})")
    md, page = read(os.path.join(out, "report.md")), read(os.path.join(out, "index.html"))

    def section(text, title):
        i = text.index(title)
        j = text.find("\n## ", i + 1)
        return text[i:j if j > 0 else len(text)]
    for title, anchor, rowhead in (("## Benchmarks on several machines", "bench-machines",
                                    "benchmark"),
                                   ("## Sweeps on several machines", "sweep-machines", "model"),
                                   ("## HTTP on several machines", "http-machines", "server")):
        check(title in md, f"{title}: in the markdown")
        if title not in md:
            continue
        sec = section(md, title)
        # the machines are named over every file of the report (m1, m2, ...), and the
        # published files need not all come from one machine: name this section's two
        names = sorted(set(re.findall(r"\*\*(m\d+)\*\*", sec)))
        check(len(names) == 2 and "Planted Xeon" in sec and "time multiplier 3" in sec,
              f"{anchor}: both machines named with their context ({names})")
        ma, mb = (names + ["m?", "m?"])[:2]
        head = next(l for l in sec.splitlines() if l.startswith(f"| {rowhead} |"))
        cols = [c.strip() for c in head.strip("|").split("|")][1:]
        check(cols and len([c for c in cols if c.startswith(ma + " ")]) ==
              len([c for c in cols if c.startswith(mb + " ")]) == len(cols) // 2,
              f"{anchor}: one column group per machine, the same columns in each ({len(cols)})")
        hs = page[page.index(f'<section id="{anchor}">'):]
        hs = hs[:hs.index("</section>")]
        check(hs.count('class="machine"') == 2 * hs.count('<table class="merged">') > 0,
              f"{anchor}: two machine column groups in each HTML table")
        imgs = re.findall(r'<img src="([^"]+)"', hs)
        check(imgs and all(f"({ma})" in read(os.path.join(out, i)) or f"{ma} " in
                           read(os.path.join(out, i)) for i in imgs) and
              all(f"({mb})" in read(os.path.join(out, i)) or f"{mb} " in
                  read(os.path.join(out, i)) for i in imgs) and all("Planted Xeon" in read(os.path.join(out, i))
                                         for i in imgs),
              f"{anchor}: every chart has series of both machines and both in its footer "
              f"({len(imgs)})")
        marked = [l for l in sec.splitlines() if "≠" in l and l.startswith("|")]
        want = {"bench-machines": "| loop.timer_churn |", "sweep-machines": "| thread |",
                "http-machines": f"| {slow} |"}[anchor]
        check(marked and all(l.startswith(want) for l in marked),
              f"{anchor}: only the planted row is marked as differing ({len(marked)} rows)")
        check(hs.count('class="differs"') == sum(l.count("≠") for l in marked) > 0,
              f"{anchor}: the HTML highlights the same cells")
    # the same files once more, unchanged: nothing differs notably
    for name, doc in (("bench-same.json", bench), ("sweep-same.json", sweep),
                      ("http-same.json", http)):
        write(name, other_machine(doc))
    out2 = fresh("machines-same")
    r = report(*files[::2], *(os.path.join(WORK, n) for n in
                             ("bench-same.json", "sweep-same.json", "http-same.json")),
               "--out", out2)
    md2 = read(os.path.join(out2, "report.md")) if r.returncode == 0 else ""
    check(r.returncode == 0 and md2.count("several machines\n") == 3
          and not [l for l in md2.splitlines() if l.startswith("|") and "≠" in l]
          and 'class="differs"' not in read(os.path.join(out2, "index.html")),
          "two machines with the same standings: nothing highlighted")
    # malformed second-machine files: one line, exit 2, no report, the old one kept
    before = tree_digest(out)
    bad_sweep = copy.deepcopy(s2)
    bad_sweep["cells"][2]["stats"] = "fast"
    bad_http = copy.deepcopy(h2)
    bad_http["servers"][1]["cells"][0] = 42
    bad_bench = copy.deepcopy(b2)
    del bad_bench["benchmarks"]
    for what, doc in (("sweep", bad_sweep), ("http", bad_http), ("bench", bad_bench)):
        p = write(f"bad-{what}-m2.json", doc)
        r = report(*files, p, "--out", out)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and os.path.basename(p) in lines[0],
              f"malformed {what} file of a second machine: exit 2, one line ({lines})")
        check(tree_digest(out) == before, f"malformed {what}: the previous report is kept")
        nf = fresh("never-m")
        report(*files, p, "--out", nf)
        check(not os.path.exists(nf), f"malformed {what}: no partial report")
    check(not [f for f in os.listdir(WORK) if f.startswith(".report-")],
          "no temporary report directories left behind")

elif CHECK == "differs":
    m3 = copy.deepcopy(m1)
    m3["context"]["kernel"] = "Linux 9.9.9-other #1 SMP x86_64"
    victim = next(c for c in m3["cells"] if c["verdict"] == "PASS" and c["backend"] == "reference")
    victim["verdict"], victim["reason"], victim["unexpected"] = "FAIL", "planted failure", True
    p3 = write("run-m3.json", m3)
    out = fresh("differs")
    r = report(M1, p3, "--out", out)
    check(r.returncode == 0, f"report exits 0 ({r.stderr})")
    page = read(os.path.join(out, "index.html"))
    md = read(os.path.join(out, "report.md"))
    check(page.count("differs\" title=") == 2 and page.count("v-pass differs") == 1
          and page.count("v-fail differs") == 1,
          "exactly the two cells of the planted difference are highlighted")
    row = next(l for l in md.splitlines() if l.startswith(f"| `{victim['test']}` |"))
    check(row.count("≠") == 2 and md.count("≠") == 3, "the markdown marks the same two cells")
    # A different backend version is not a difference between machines.
    for c in m3["cells"]:
        if c["backend"] == "reference":
            c["backend_version"] = "loopconf-reference 9.9"
    p3 = write("run-m3.json", m3)
    out = fresh("differs2")
    report(M1, p3, "--out", out)
    check("differs\" title=" not in read(os.path.join(out, "index.html")),
          "no highlight when the backend version differs")

elif CHECK == "diff":
    r = report("--diff", M1, M1)
    check(r.returncode == 0 and "No cell changed verdict" in r.stdout,
          f"a run against itself: exit 0, no change (got {r.returncode})")
    new = copy.deepcopy(m1)
    victim = next(c for c in new["cells"] if c["verdict"] == "PASS")
    victim["verdict"], victim["reason"] = "TIMEOUT", "planted timeout"
    gone = new["cells"][-1]["test"]
    new["cells"] = [c for c in new["cells"] if c["test"] != gone]
    added = copy.deepcopy(new["cells"][0])
    added["test"] = "loop.timer.planted_new"
    new["cells"].append(added)
    ch = next(c for c in new["cells"] if c.get("characteristics"))
    key = sorted(ch["characteristics"])[0]
    ch["characteristics"][key] = "planted value"
    pn = write("run-new.json", new)
    out = fresh("diff")
    r = report(M1, "--diff", M1, pn, "--out", out)
    check(r.returncode == 1, f"a regressed cell makes --diff exit 1 (got {r.returncode})")
    check(re.search(rf"\| `{re.escape(victim['test'])}` \| {victim['backend']} \| PASS \| "
                    r"TIMEOUT \| \*\*regression\*\*", r.stdout) is not None,
          "the regressed cell is named with old and new verdicts")
    check(f"New tests: `loop.timer.planted_new`" in r.stdout, "the new test is listed")
    check(f"Vanished tests: `{gone}`" in r.stdout, "the vanished test is listed")
    check("planted value" in r.stdout and key in r.stdout, "the changed characteristic is listed")
    check("Changes between runs" in read(os.path.join(out, "report.md")),
          "the diff is in the report too")
    fixed = copy.deepcopy(m1)
    x = next(c for c in fixed["cells"] if c["verdict"] == "PASS")
    x["verdict"] = "XFAIL"
    r = report("--diff", write("run-fixed.json", fixed), M1)
    check(r.returncode == 0, "a change to an expected verdict is not a regression (exit 0)")
    bench = os.path.join(SRC, "results/baseline/bench.json")
    if os.access(os.path.join(os.path.dirname(LOOPCONF), "loopconf-bench"), os.X_OK):
        r = report("--diff", bench, bench)
        check(r.returncode == 0 and "compare" in r.stdout,
              f"two benchmark files: compare's verdicts, exit 0 for the same file "
              f"({r.returncode}: {r.stderr.strip()})")
    r = report("--diff", M1, bench)
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1,
          "--diff of a run and a bench file is bad usage (exit 2, one line)")

elif CHECK == "malformed":
    out = fresh("malformed")
    r = report(M1, "--out", out)
    check(r.returncode == 0, "a good report first")
    before = tree_digest(out)
    trunc = os.path.join(WORK, "truncated.json")
    with open(trunc, "w") as f:
        f.write(read(M1)[:5000])
    bad_cell = copy.deepcopy(m1)
    del bad_cell["cells"][3]["verdict"]
    bad_verdict = copy.deepcopy(m1)
    bad_verdict["cells"][0]["verdict"] = "MAYBE"
    cases = {"truncated JSON": trunc,
             "unknown schema": write("schema.json", {"schema": "nope/1", "context": {}}),
             "cell without verdict": write("nocell.json", bad_cell),
             "unknown verdict": write("verdict.json", bad_verdict),
             "missing file": os.path.join(WORK, "does-not-exist.json"),
             # well-formed JSON that fails half-way through the build (table.py rejects it)
             "bad benchmark entry": write("bench-bad.json", {
                 "schema": "loopconf-bench/1", "context": {}, "benchmarks": [{"name": "x"}]})}
    for what, p in cases.items():
        r = report(M1, p, "--out", out)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and os.path.basename(p) in lines[0],
              f"{what}: exit 2 and one error line naming the file ({r.returncode}: {lines})")
        check(tree_digest(out) == before, f"{what}: the previous report is left as it was")
        nf = fresh("never")
        report(p, "--out", nf)
        check(not os.path.exists(nf), f"{what}: no partial report is written")
    left = [f for f in os.listdir(WORK) if f.startswith(".report-")]
    check(not left, f"no temporary report directories are left behind ({left})")
    r = report(M1, "--out", os.path.join(WORK, "no-such-dir", "out"))
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1,
          "an --out whose parent is missing: exit 2, one line")
    r = report("--bogus")
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, "unknown option: exit 2")

elif CHECK == "deviations":
    def expect_lines(path):
        """(lineno, test, reason tail) of every verdict line (not CHAR) of an expectations file."""
        out = []
        for n, l in enumerate(read(path).splitlines(), 1):
            if l.strip() and not l.startswith("#") and " CHAR " not in l:
                out.append((n, l.split()[0], l.split(None, 3)[-1][-60:]))
        return out
    m1x = copy.deepcopy(m1)
    for b in m1x["backends"]:
        if b["name"] == "libuv":
            b["version"] = "libuv 1.48.0"
    for c in m1x["cells"]:
        if c["backend"] == "libuv":
            c["backend_version"] = "libuv 1.48.0"
    m1x["context"]["kernel"] = "Linux 9.9.9-other #1 SMP x86_64"
    out = fresh("deviations")
    r = report(M1, write("run-newuv.json", m1x), "--out", out)
    check(r.returncode == 0, f"report written ({r.stderr.strip()})")
    md, page = read(os.path.join(out, "report.md")), read(os.path.join(out, "index.html"))
    sec = md[md.index("### Deviations per library"):]
    sec = sec[:sec.index("\n### ", 5)]
    for be in ("libuv", "libev"):
        src = os.path.join(SRC, "adapters", f"{be}.expect")
        for n, test, tail in expect_lines(src):
            cite = f"adapters/{be}.expect:{n}"
            note = next((l for l in sec.splitlines() if f"**{be}** `{test}`" in l
                         and cite in l), "")
            check(note and tail in note, f"{cite} ({test}) is a reason with its citation in md")
            check(re.search(rf'<li id="dev-\d+"><b>{be}</b> <code>{re.escape(test)}</code>'
                            rf'[^\n]*{re.escape(html_esc(tail))}[^\n]*{re.escape(cite)}',
                            page) is not None, f"... and in the HTML")
            row = next((l for l in sec.splitlines() if l.startswith(f"| `{test}`")), "")
            check("XFAIL" in row, f"{test}: its row shows the verdict of the run")
    z = next(l for l in sec.splitlines() if "**libuv** `loop.timer.zero_delay_no_starve`" in l)
    check("version<1.48" in z and "holds for libuv 1.44.2" in z
          and "does not hold for libuv 1.48.0" in z,
          "a version condition says for which run versions it holds")
    check(sec.count("reference: no deviation") + sec.count("reference, ") >= 1,
          "a backend without deviations is named as such")
    # `may` lines (GLib, sd-event) and SKIP cells (tevent) from the published results.
    pub = [os.path.join(SRC, "results", "conformance", f)
           for f in sorted(os.listdir(os.path.join(SRC, "results", "conformance")))]
    out = fresh("deviations-pub")
    r = report(*pub, "--out", out)
    check(r.returncode == 0, f"published results: report written ({r.stderr.strip()})")
    md = read(os.path.join(out, "report.md"))
    md = md[md.index("### Deviations per library"):]
    cells = [c for p in pub for c in json.load(open(p))["cells"]]
    for be, test in (("sdevent", "loop.timer.many"), ("glib", "loop.timer.order")):
        cs = [c for c in cells if c["backend"] == be and c["test"] == test]
        if not cs:
            continue
        total = sum(sum(c["counts"].values()) for c in cs)
        shown = sum(n for c in cs for k, n in c["counts"].items() if k != "PASS")
        row = next(l for l in md.splitlines() if l.startswith(f"| `{test}`"))
        check(f"(may: showed in {shown} of {total} runs)" in row,
              f"{be} {test}: a may line's cell says in how many runs it showed ({shown}/{total})")
    sk = [c for c in cells if c["verdict"] == "SKIP"]
    if sk:
        row = next(l for l in md.splitlines() if l.startswith(f"| `{sk[0]['test']}`"))
        check("SKIP [" in row and sk[0]["reason"] in md,
              "a SKIP cell without an expectations line is listed with the run's reason")

elif CHECK == "markdown":
    cmark = shutil.which("cmark-gfm")
    if not cmark:
        print("cmark-gfm not installed (scripts/install-deps.sh); skipped")
        sys.exit(77)
    out = fresh("markdown")
    r = report(M1, M2, *machine_files()[0], "--out", out)
    check(r.returncode == 0, "report written")
    for mdpath in (os.path.join(out, "report.md"),
                   os.path.join(SRC, "results", "report", "report.md")):
        if not os.path.exists(mdpath):
            continue
        out = os.path.dirname(mdpath)
        md = read(mdpath)
        r = subprocess.run([cmark, "--extension", "table", "--validate-utf8"], input=md,
                           capture_output=True, text=True)
        check(r.returncode == 0, "cmark-gfm renders report.md")
        html = r.stdout
        want = len(re.findall(r"^\|(?: ?:?-+:? ?\|)+\s*$", md, re.M))
        check(html.count("<table>") == want, f"every markdown table renders as a table "
              f"({html.count('<table>')} of {want})")
        check(not re.search(r"^<p>\|", html, re.M), "no table row is left as a paragraph")
        imgs = re.findall(r'<img src="([^"]+)"', html)
        check(imgs and all(os.path.exists(os.path.join(out, i)) for i in imgs),
              f"every image the markdown shows exists ({len(imgs)})")
        # Every row of a table has as many cells as its header.
        rows_ok = True
        cur = None
        for l in md.splitlines():
            if l.startswith("|"):
                n = len(re.sub(r"`[^`]*`", "", l).strip().strip("|").split("|"))
                if cur is None:
                    cur = n
                elif n != cur:
                    rows_ok = False
                    print(f"row with {n} cells, header {cur}: {l[:100]}", file=sys.stderr)
            else:
                cur = None
        check(rows_ok, "every table row has as many cells as its header")


elif CHECK == "runjson":
    p = os.path.join(WORK, "run.json")
    if os.path.exists(p):
        os.unlink(p)
    libuv = os.path.exists(os.path.join(os.path.dirname(LOOPCONF), "backends", "lcb_libuv.so"))
    r = subprocess.run([LOOPCONF, "run", "-q", "--backend",
                        "reference,libuv" if libuv else "reference", "--test",
                        "loop.run.once_due_timer,loop.io.close_watched_fd", "--json", p],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"run --json exits 0 ({r.returncode}: {r.stderr.strip()})")
    doc = json.load(open(p))
    check(doc.get("schema") == "loopconf-run/1", "schema loopconf-run/1")
    ctx = doc.get("context", {})
    for k in ("cpu_model", "kernel", "compiler", "build_type", "git_commit", "time_multiplier",
              "date", "num_cpus", "cpu_mitigations", "syscall_ns"):
        check(k in ctx, f"context has {k}")
    check(isinstance(ctx.get("syscall_ns"), (int, float)) and 10 < ctx["syscall_ns"] < 1e6,
          f"a system call's cost is a plausible number of ns ({ctx.get('syscall_ns')})")
    cells = {(c["backend"], c["test"]): c for c in doc["cells"]}
    check(len(cells) == (4 if libuv else 2), "one cell per backend and test")
    if libuv:  # (a build without libuv has no expected failure to look at)
        x = cells.get(("libuv", "loop.run.once_due_timer"), {})
        check(x.get("verdict") == "XFAIL" and (x.get("expected") or {}).get("verdict") == "FAIL"
              and "uv_run" in (x.get("expected") or {}).get("reason", ""),
              "an expected failure carries the expectation and its reason")
        check(x.get("backend_version", "").startswith("libuv 1."),
              "the library version really run")
    c = cells.get(("reference", "loop.io.close_watched_fd"), {})
    check(c.get("characteristics", {}).get("close-watched-fd")
          and c.get("pins", {}).get("close-watched-fd"), "characteristics and their pins")
    check(all(isinstance(c.get("duration_s"), float) and c.get("clauses") for c in cells.values()),
          "every cell has a duration and its clauses")
    ids = {cl["id"] for cl in doc.get("spec_clauses", [])}
    check("LOOP-RUN-ONCE-DUE-TIMER" in ids, "the spec's clauses are listed for coverage")
    out = fresh("runjson")
    r = report(p, "--out", out)
    check(r.returncode == 0 and f"a system call {ctx.get('syscall_ns', 0):.0f} ns"
          in read(os.path.join(out, "report.md")),
          "the report's machine line says what a system call cost")
    r = subprocess.run([LOOPCONF, "run", "-q", "--json", os.path.join(WORK, "nodir", "x.json")],
                       capture_output=True, text=True)
    check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and not r.stdout,
          f"an unwritable --json path: exit 2, one line, before any cell runs ({r.stderr.strip()})")

elif CHECK == "browser":
    out = fresh("browser")
    r = report(M1, M2, *machine_files()[0], "--out", out)
    check(r.returncode == 0, f"report written ({r.stderr.strip()})")
    tests = {c["test"] for p in (M1, M2) for c in json.load(open(p))["cells"]}
    r = subprocess.run([sys.executable, os.path.join(SRC, "harness/report/browser_check.py"),
                        os.path.join(out, "index.html"), "--rows", str(len(tests)),
                        "--shots", os.path.join(WORK, "screenshots")])
    if r.returncode == 77:
        sys.exit(77)
    check(r.returncode == 0, "headless Chromium: no console errors, every image loads, one "
          f"matrix row per test; screenshots in {os.path.join(WORK, 'screenshots')}")

elif CHECK == "published":
    pub = os.path.join(SRC, "results", "report")
    if not os.path.isdir(pub):
        check(False, "results/report exists")
    else:
        out = fresh("published")
        r = report("--out", out)
        check(r.returncode == 0, f"the default report builds ({r.stderr.strip()})")
        cmp = filecmp.dircmp(pub, out)
        diffs = cmp.left_only + cmp.right_only + [
            f for f in cmp.common_files if not filecmp.cmp(os.path.join(pub, f),
                                                           os.path.join(out, f), shallow=False)]
        check(not diffs, "results/report is what `loopconf report` produces from results/ "
              f"(regenerate with: loopconf report; differing: {diffs})")
        readme = os.path.join(WORK, "README.md")
        shutil.copy(os.path.join(SRC, "README.md"), readme)
        r = report("--out", fresh("published2"), "--readme", readme)
        check(r.returncode == 0 and read(readme) == read(os.path.join(SRC, "README.md")),
              "README.md's generated tables are up to date (loopconf report --readme README.md)")
else:
    print(__doc__.strip(), file=sys.stderr)
    sys.exit(2)

sys.exit(1 if failures else 0)
