"""deviations.py: the per-library deviation table of `loopconf report` (python3 stdlib only).

Every line of every backend's expectations file (reference_loop/*.expect, adapters/*.expect,
adapters/*/<file> named by loopconf_add_adapter(... EXPECT <file>)) joined with what the
conformance results show for that backend: the verdict on each machine (a `may` line with how
many runs it showed in), whether a version condition holds for the library version that ran,
the clause the test checks (spec/*.tsv) and the reason, cited by file and line. SKIP cells and
unexpected verdicts of the results are listed too, with the run's reason. Characteristics (what
the contract leaves to the backend) get a table of their own, with the pinned value.
"""
import glob
import os
import re

VERDICTS = ("FAIL", "TIMEOUT", "CRASH")
COND_RE = re.compile(r"^version(<=|>=|!=|==|<|>|=)")


class BadExpect(Exception):
    pass


# ---- expectations files ------------------------------------------------------------------------

def parse_expect(path, src):
    """[(lineno, test, may, verdict, cond, reason)] and {test: (key, value, lineno)} pins."""
    lines, pins = [], {}
    relp = os.path.relpath(path, src)
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            s = raw.strip()
            if not s or s.startswith("#"):
                continue
            tok = s.split(None, 1)
            test, rest = tok[0], tok[1] if len(tok) > 1 else ""
            if rest.startswith("CHAR "):
                kv = rest[5:].split(None, 1)
                if len(kv) == 2:
                    pins.setdefault(test, []).append((kv[0], kv[1], n))
                continue
            may = False
            if rest.startswith("may "):
                may, rest = True, rest[4:]
            tok = rest.split(None, 1)
            if not tok or tok[0] not in VERDICTS:
                raise BadExpect(f"{relp}:{n}: not '<test> [may] <FAIL|TIMEOUT|CRASH> "
                                "[version<OP><N>] <reason>'")
            verdict, rest = tok[0], tok[1] if len(tok) > 1 else ""
            cond = None
            tok = rest.split(None, 1)
            if tok and COND_RE.match(tok[0]):
                cond, rest = tok[0], tok[1] if len(tok) > 1 else ""
                if cond_holds(cond, (0,)) is None:
                    raise BadExpect(f"{relp}:{n}: malformed version condition '{cond}'")
            lines.append((n, test, may, verdict, cond, rest.strip()))
    return lines, pins


def expect_sources(src):
    """{basename the build gives the file: source path}: lcb_<name>.expect for the built-in
    backends (loopconf_add_backend), lib<target>.expect for loopconf_add_adapter modules."""
    out = {}
    for p in sorted(glob.glob(os.path.join(src, "reference_loop", "*.expect")) +
                    glob.glob(os.path.join(src, "adapters", "*.expect"))):
        out["lcb_" + os.path.basename(p)] = p
    for cm in sorted(glob.glob(os.path.join(src, "adapters", "*", "CMakeLists.txt"))):
        with open(cm, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"loopconf_add_adapter\(\s*(\S+)[^)]*?\bEXPECT\s+(\S+?)[\s)]", text):
            out[f"lib{m.group(1)}.expect"] = os.path.join(os.path.dirname(cm), m.group(2))
    return out


def version_of(s):
    """The first dotted number that starts a word in a version() string (as the runner does)."""
    for m in re.finditer(r"\d+(?:\.\d+)*", s):
        i = m.start()
        if i > 0 and (s[i - 1].isalnum() or s[i - 1] == "."):
            continue
        return tuple(int(x) for x in m.group(0).split("."))
    return None


def cond_holds(cond, version):
    """True/False for 'version<1.48' or 'version>=2.0,<2.2' against a version tuple; None when
    the condition is malformed."""
    body = cond[len("version"):]
    ok = True
    for part in body.split(","):
        m = re.fullmatch(r"(<=|>=|!=|==|<|>|=)(\d+(?:\.\d+)*)", part)
        if not m:
            return None
        want = tuple(int(x) for x in m.group(2).split("."))
        n = max(len(want), len(version))
        a, b = version + (0,) * (n - len(version)), want + (0,) * (n - len(want))
        op = m.group(1)
        ok = ok and {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b,
                     "==": a == b, "!=": a != b}[op]
    return ok


def spec_clauses(src):
    """{clause id: behaviour sentence} from spec/*.tsv."""
    out = {}
    for p in sorted(glob.glob(os.path.join(src, "spec", "*.tsv"))):
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or line.startswith("id\t"):
                    continue
                cols = line.rstrip("\n").split("\t")
                if len(cols) >= 2:
                    out[cols[0]] = cols[1]
    return out


# ---- the model ---------------------------------------------------------------------------------

def model(cmodel, src):
    """Deviations of every backend in the conformance model (lcreport.conformance_model)."""
    cols, mname = cmodel["cols"], cmodel["mname"]
    sources = expect_sources(src)
    backends = []          # in column order, once per backend
    for c in cols:
        if c.backend not in backends:
            backends.append(c.backend)
    files = {}             # backend -> source path or None
    for be, path in cmodel.get("expectations", {}).items():
        files[be] = sources.get(os.path.basename(path or ""))
    parsed = {}
    for be in backends:
        p = files.get(be)
        parsed[be] = parse_expect(p, src) if p and os.path.isfile(p) else ([], {})
    rows = {}              # test -> {backend: entry}
    for be in backends:
        bcols = [c for c in cols if c.backend == be]
        versions = sorted({c.version for c in bcols})
        lines, _ = parsed[be]
        for (n, test, may, verdict, cond, reason) in lines:
            holds = []
            for v in versions:
                vt = version_of(v)
                holds.append((v, cond is None or (vt is not None and cond_holds(cond, vt))))
            e = rows.setdefault(test, {}).setdefault(be, {"lines": [], "cells": []})
            e["lines"].append({"file": os.path.relpath(files[be], src), "line": n, "may": may,
                               "verdict": verdict, "cond": cond, "holds": holds,
                               "reason": reason})
        for c in bcols:
            for test, cell in c.cells.items():
                v = cell["verdict"]
                listed = test in rows and be in rows[test]
                if v == "PASS" and not listed:
                    continue
                e = rows.setdefault(test, {}).setdefault(be, {"lines": [], "cells": []})
                e["cells"].append((mname[c.mkey], cell))
    return {"backends": backends, "rows": rows, "files": files, "parsed": parsed,
            "paths": dict(cmodel.get("expectations", {})),
            "clauses": spec_clauses(src), "clauses_of": cmodel["clauses_of"],
            "versions": {be: sorted({c.version for c in cols if c.backend == be})
                         for be in backends}}


def cell_text(e):
    """What the matrix cell says: the verdicts shown on the machines, a `may` line's runs."""
    if not e["cells"]:
        return "not run"
    may = any(ln["may"] for ln in e["lines"])
    by = {}
    for m, cell in e["cells"]:
        v = cell["verdict"]
        tag = v + ("!" if cell.get("unexpected") else "")
        by.setdefault(tag, []).append(m)
    if may:
        shown = total = 0
        for _, cell in e["cells"]:
            counts = cell.get("counts") or {}
            total += sum(counts.values())
            shown += sum(n for k, n in counts.items() if k != "PASS")
    parts = []
    for tag, ms in by.items():
        where = "" if len(by) == 1 else " (" + ", ".join(ms) + ")"
        parts.append(tag + where)
    text = ", ".join(parts)
    if may:
        text += f" (may: showed in {shown} of {total} runs)"
    return text


def notes(dm):
    """[(n, backend, test, markdown-free pieces)] in row order, one per expectations line or
    per listed verdict without a line."""
    out = []
    for test in sorted(dm["rows"]):
        for be in dm["backends"]:
            e = dm["rows"][test].get(be)
            if not e:
                continue
            if e["lines"]:
                for ln in e["lines"]:
                    out.append((be, test, e, ln))
            else:
                out.append((be, test, e, None))
    return out


def _status(e, ln):
    if ln is None:
        return ""
    bits = ["may " if ln["may"] else ""]
    bits.append(ln["verdict"] + " expected")
    if ln["cond"]:
        hv = "; ".join(f"{'holds' if h else 'does not hold'} for {v}" for v, h in ln["holds"])
        bits.append(f", only when {ln['cond']} ({hv})")
    return "".join(bits)


def render(dm, link_prefix, esc=None):
    """(markdown, html) of the deviation matrix and its numbered reasons. link_prefix: the
    path from the document to the source tree's root ('' for the README), or None for no
    links (a report directory can be anywhere: its citations are paths in the source tree)."""
    backends = [b for b in dm["backends"] if any(b in r for r in dm["rows"].values())]
    clean = [b for b in dm["backends"] if b not in backends]
    nl = notes(dm)
    num = {}
    for i, (be, test, e, ln) in enumerate(nl, 1):
        num.setdefault((test, be), []).append(i)
    head = [f"{b} {' / '.join(version_short(v) for v in dm['versions'][b])}" for b in backends]
    md = ["| test (clauses) | " + " | ".join(head) + " |", "|---|" + "---|" * len(backends)]
    hh = ['<div class="scroll"><table id="deviations" class="matrix deviations"><thead><tr>'
          "<th>test (clauses)</th>" + "".join(f"<th>{esc(x)}</th>" for x in head) +
          "</tr></thead><tbody>"]
    for test in sorted(dm["rows"]):
        cl = dm["clauses_of"].get(test, "")
        mrow, hrow = [], []
        for b in backends:
            e = dm["rows"][test].get(b)
            if not e:
                passed = test in dm["clauses_of"]
                mrow.append("PASS" if passed else "")
                hrow.append('<td class="v-pass">PASS</td>' if passed else "<td></td>")
                continue
            t = cell_text(e)
            refs = num.get((test, b), [])
            mrow.append(t + "".join(f" [{n}]" for n in refs))
            first = e["cells"][0][1]["verdict"] if e["cells"] else "skip"
            cls = "v-" + first.lower()
            hrow.append(f'<td class="{cls}">{esc(t)}' + "".join(
                f' <a href="#dev-{n}">[{n}]</a>' for n in refs) + "</td>")
        md.append(f"| `{test}` ({cl}) | " + " | ".join(mrow) + " |")
        hh.append(f'<tr><th class="tname"><code>{esc(test)}</code>'
                  f'<br><span class="ver">{esc(cl)}</span></th>{"".join(hrow)}</tr>')
    hh.append("</tbody></table></div>")
    md.append("")
    if clean:
        s = (", ".join(clean) + ": no deviation (no expectations line, every cell PASS).")
        md += [s, ""]
        hh.append(f"<p>{esc(s)}</p>")
    md.append("Reasons, each from the backend's expectations file (cited by line) or, without "
              "a line, from the run:\n")
    hh.append("<p>Reasons, each from the backend's expectations file (cited by line) or, "
              "without a line, from the run:</p><ol class=\"notes\">")
    for i, (be, test, e, ln) in enumerate(nl, 1):
        clauses = dm["clauses_of"].get(test, "").split()
        ctext = " ".join(f"{c}: {dm['clauses'][c]}" for c in clauses if c in dm["clauses"])
        if ln is not None:
            where = f"{ln['file']}:{ln['line']}"
            href = f"{link_prefix or ''}{ln['file']}#L{ln['line']}"
            why = ln["reason"]
            status = _status(e, ln)
        else:
            cell = e["cells"][0][1] if e["cells"] else {}
            where, href = None, None
            why = " ".join(str(cell.get("reason") or "no reason recorded").split())
            exp = cell.get("expected") or {}
            if exp:  # an out-of-tree adapter: its expectations file is not in this source tree
                status = (f"{exp.get('verdict', '?')} expected by "
                          f"{dm['paths'].get(be) or 'its expectations file'}")
                why = " ".join(str(exp.get("reason") or why).split())
            else:
                status = "no expectations line"
            if any(c.get("unexpected") for _, c in e["cells"]):
                status += ", unexpected"
        cite = ((f" ([`{where}`]({href}))" if link_prefix is not None else f" (`{where}`)")
                if where else "")
        md.append(f"{i}. **{be}** `{test}`: {status}: {why}{cite}"
                  + (f" Clauses: {ctext}" if ctext else ""))
        hc = f" (<code>{esc(where)}</code>)" if where else ""
        hh.append(f'<li id="dev-{i}"><b>{esc(be)}</b> <code>{esc(test)}</code>: {esc(status)}: '
                  f'{esc(why)}{hc}' + (f'<br><span class="ver">Clauses: {esc(ctext)}</span>'
                                       if ctext else "") + "</li>")
    md.append("")
    hh.append("</ol>")
    return "\n".join(md), "\n".join(hh)


def version_short(v):
    """'libuv 1.44.2' -> '1.44.2'; 'sd-event (libsystemd.so.0.35.0)' -> 'libsystemd.so.0.35.0'."""
    m = re.search(r"\(([^)]*\d[^)]*)\)\s*$", v)
    if m and not version_of(v.split("(")[0]):
        return m.group(1)
    vt = version_of(v)
    if vt is not None:
        m = re.search(r"(?<![\w.])\d+(?:\.\d+)*(?:-\w+)?", v)
        return m.group(0) if m else v
    return v


def characteristics(cmodel, esc):
    """(markdown, html): each characteristic per backend, the pin beside it, machines told apart
    only where they recorded different values."""
    cols, mname = cmodel["cols"], cmodel["mname"]
    backends = []
    for c in cols:
        if c.backend not in backends:
            backends.append(c.backend)
    keys = sorted({k for c in cols for cell in c.cells.values()
                   for k in (cell.get("characteristics") or {})})
    if not keys:
        return "", ""
    md = ["| characteristic (test) | " + " | ".join(backends) + " |",
          "|---|" + "---|" * len(backends)]
    hh = ['<div class="scroll"><table class="chars"><tr><th>characteristic (test)</th>' +
          "".join(f"<th>{esc(b)}</th>" for b in backends) + "</tr>"]
    for k in keys:
        tests = sorted({t for c in cols for t, cell in c.cells.items()
                        if k in (cell.get("characteristics") or {})})
        vals = []
        for b in backends:
            per = {}
            for c in cols:
                if c.backend != b:
                    continue
                vs = sorted({" ".join(str(cell["characteristics"][k]).split())
                             for cell in c.cells.values()
                             if k in (cell.get("characteristics") or {})})
                if vs:
                    per.setdefault("; ".join(vs), []).append(mname[c.mkey])
            heads = {v.split(" (")[0] for v in per}
            if len(per) <= 1:
                vals.append(next(iter(per), ""))
            elif len(heads) == 1:
                # the same value (what a pin compares) with run-dependent details
                ms = ", ".join(sorted(set().union(*per.values())))
                vals.append(f"{heads.pop()} (details differ: {ms})")
            else:
                vals.append(" / ".join(f"{v} ({', '.join(ms)})" for v, ms in per.items()))
        md.append(f"| {k} ({', '.join(f'`{t}`' for t in tests)}) | " +
                  " | ".join(v.replace("|", "/") for v in vals) + " |")
        hh.append(f"<tr><th>{esc(k)}<br><span class=\"ver\">{esc(', '.join(tests))}</span></th>"
                  + "".join(f"<td>{esc(v)}</td>" for v in vals) + "</tr>")
    md.append("")
    hh.append("</table></div>")
    return "\n".join(md), "\n".join(hh)
