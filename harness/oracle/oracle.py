#!/usr/bin/env python3
"""oracle.py: check the C runtime's semantic traces against CPython's asyncio (stdlib only).

Runs `loopconf run --tier semantics` with LOOPCONF_TRACE_DIR set, so every semantic test
writes <dir>/<backend>/<scenario>.trace; runs each scenario's asyncio twin
(harness/oracle/<scenario>.py, scenario = the test name without "semantics." and with dots
as underscores); compares the traces per backend: the text of every line exactly, in order,
and the timing tokens " @<N>ms ~<W>ms" within a tolerance scaled by LOOPCONF_TIME_MULTIPLIER,
plus, for the later side, W: how long its main thread waited for a CPU (/proc/self/schedstat;
plus the hypervisor's steal from the machine's CPUs, /proc/stat, on a VM;
a busy machine's scheduling delays can only make events later, and are not the runtime's
lateness). On a
mismatch it names the scenario's clauses from spec/semantics.tsv. Prints a matrix and the
final line "oracle: N passed, M failed".

Cells the backend fails as its expectations file says (XFAIL) are not compared (noted).
Exit status: 0 every compared cell matched; 1 a mismatch (or a missing trace); 2 bad input
(no loopconf, a scenario without a twin, an unreadable trace or spec, a twin that crashes).
See harness/oracle/README.md.
"""
import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
TOKEN = re.compile(r" @(-?\d+)ms(?: ~(\d+)ms)?$")
ABS_TOL_MS = 20.0   # timing tokens: |C - Python| <= (ABS_TOL_MS + REL_TOL * Python) * multiplier
REL_TOL = 0.20


class BadInput(Exception):
    """Something the oracle cannot work with: exit status 2."""


def scenario_of(test):
    """semantics.gather.order -> gather_order (the twin's and the trace's base name)."""
    return test[len("semantics."):].replace(".", "_")


def multiplier_from(value, what):
    try:
        m = float(value)
    except ValueError:
        raise BadInput(f"{what} '{value}' is not a number from 1 to 1000") from None
    if not 1.0 <= m <= 1000.0:
        raise BadInput(f"{what} '{value}' is not a number from 1 to 1000")
    return m


def read_clauses(spec_dir):
    """test name -> [clause ids], from every spec/*.tsv that names it."""
    out = {}
    path = os.path.join(spec_dir, "semantics.tsv")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the clause file {path}: {exc}") from None
    if not lines or lines[0] != "id\tbehaviour\tsource\ttests":
        raise BadInput(f"{path}: the first line must be id<TAB>behaviour<TAB>source<TAB>tests")
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise BadInput(f"{path}:{n}: {len(fields)} TAB-separated fields, expected 4")
        for test in filter(None, (t.strip() for t in fields[3].split(","))):
            out.setdefault(test, []).append(fields[0])
    return out


def list_tests(loopconf, patterns):
    """The semantic test names loopconf knows, filtered by --test patterns."""
    try:
        p = subprocess.run([loopconf, "list", "tests"], capture_output=True, text=True,
                           timeout=60, check=False)
    except OSError as exc:
        raise BadInput(f"cannot run {loopconf}: {exc}") from None
    if p.returncode != 0:
        raise BadInput(f"'{loopconf} list tests' exited {p.returncode}: {p.stderr.strip()}")
    tests = [ln.split()[0] for ln in p.stdout.splitlines()
             if ln.startswith("semantics.") and ln.split()]
    if patterns:
        tests = [t for t in tests if any(fnmatch.fnmatchcase(t, pat) for pat in patterns)]
    return tests


def parse_tap(path):
    """{(backend, test): "pass" | "skip" | "xfail" | "fail"} from the runner's TAP file."""
    cells = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"(ok|not ok) \d+ - ([^/]+)/(\S+)(.*)$", line.rstrip("\n"))
                if not m:
                    continue
                status = "fail" if m.group(1) == "not ok" else "pass"
                if "# SKIP" in m.group(4):
                    status = "skip"
                elif "# TODO xfail" in m.group(4):
                    status = "xfail"  # an expected deviation of the backend, cited in its .expect
                cells[(m.group(2), m.group(3))] = status
    except OSError:
        pass  # the runner died before writing it: every cell counts as run
    return cells


def split_line(line):
    """(text, ms or None, ms waited for a CPU)."""
    m = TOKEN.search(line)
    if not m:
        return line, None, 0
    return line[:m.start()], int(m.group(1)), int(m.group(2) or 0)


def compare(c_lines, py_lines, mult):
    """None if the C trace matches the twin's, else a one-paragraph description."""
    for i in range(max(len(c_lines), len(py_lines))):
        if i >= len(c_lines):
            return f"line {i + 1}: C trace ends; asyncio has '{py_lines[i]}'"
        if i >= len(py_lines):
            return f"line {i + 1}: C has '{c_lines[i]}'; the asyncio trace ends"
        ct, cms, cwait = split_line(c_lines[i])
        pt, pms, pwait = split_line(py_lines[i])
        if ct != pt or (cms is None) != (pms is None):
            return f"line {i + 1}: C '{c_lines[i]}' != asyncio '{py_lines[i]}'"
        if cms is not None:
            # Waiting for a CPU can only make a side later, never earlier: the later side may
            # be late by the tolerance plus what it waited.
            tol = (ABS_TOL_MS + REL_TOL * abs(pms)) * mult
            allowed = tol + (cwait if cms > pms else pwait)
            if abs(cms - pms) > allowed:
                return (f"line {i + 1} '{ct}': C at {cms} ms ({cwait} ms of it waiting for a "
                        f"CPU), asyncio at {pms} ms ({pwait} ms) (tolerance {tol:.0f} ms "
                        f"+ the later side's wait)")
    return None


def read_trace(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise BadInput(f"unreadable trace {path}: not UTF-8 ({exc})") from None
    except OSError as exc:
        raise BadInput(f"unreadable trace {path}: {exc.strerror}") from None


def waited_ms(lines):
    """The longest CPU wait a trace's timing tokens record (0 without tokens)."""
    return max((split_line(ln)[2] for ln in lines), default=0)


RETRIES = 2  # extra runs of a side whose trace a starved CPU may have changed


def run_twin(twin, mult, env):
    try:
        p = subprocess.run([sys.executable, twin], capture_output=True, text=True, cwd=HERE,
                           timeout=120 * mult, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise BadInput(f"twin {twin} did not finish in {120 * mult:.0f} s") from None
    if p.returncode != 0:
        raise BadInput(f"twin {twin} exited {p.returncode}: "
                       f"{p.stderr.strip().splitlines()[-1:] or ''}")
    return p.stdout.splitlines()


def main(argv):
    ap = argparse.ArgumentParser(
        prog="oracle.py", description="Compare the semantic traces of the C runtime on every "
        "backend with CPython asyncio twins.")
    # Installed as <prefix>/share/loopconf/oracle: the loopconf of that prefix by default.
    installed = os.path.join(HERE, "..", "..", "..", "bin", "loopconf")
    ap.add_argument("--loopconf", default=os.environ.get("LOOPCONF") or
                    (installed if os.access(installed, os.X_OK) else None),
                    help="the loopconf executable (default: $LOOPCONF, or <prefix>/bin/loopconf "
                    "when installed)")
    ap.add_argument("--backend", help="comma-separated built-in backends (default: all)")
    ap.add_argument("--adapter", action="append", default=[],
                    help="also run an out-of-tree adapter module (repeatable)")
    ap.add_argument("--test", help="comma-separated semantic test names or globs")
    ap.add_argument("--time-multiplier", help="scale tolerances (default: "
                    "$LOOPCONF_TIME_MULTIPLIER or 1)")
    ap.add_argument("--jobs", default="1", help="cells in parallel in loopconf run")
    spec = os.path.join(SOURCE_DIR, "spec")  # the source tree's, or <prefix>/share/loopconf/spec
    if not os.path.isdir(spec):
        spec = os.path.join(HERE, "..", "spec")
    ap.add_argument("--spec", default=spec, help="spec directory")
    ap.add_argument("--keep", help="keep the traces in this directory (created)")
    args = ap.parse_args(argv)
    try:
        return oracle(args)
    except BadInput as exc:
        print(f"oracle: error: {exc}", file=sys.stderr)
        return 2


def oracle(args):
    if args.time_multiplier is not None:
        mult = multiplier_from(args.time_multiplier, "--time-multiplier")
    else:
        env_m = os.environ.get("LOOPCONF_TIME_MULTIPLIER") or "1"
        mult = multiplier_from(env_m, "LOOPCONF_TIME_MULTIPLIER")
    if not args.loopconf:
        raise BadInput("no loopconf executable: pass --loopconf PATH or set $LOOPCONF")
    loopconf = shutil.which(args.loopconf) or args.loopconf
    if not (os.path.isfile(loopconf) and os.access(loopconf, os.X_OK)):
        raise BadInput(f"loopconf executable '{args.loopconf}' is missing or not executable")
    clauses = read_clauses(args.spec)
    patterns = [p for p in (args.test or "").split(",") if p]
    tests = list_tests(loopconf, patterns)
    if not tests:
        raise BadInput("no semantic test matches" + (f" '{args.test}'" if patterns else ""))
    missing = [f"{scenario_of(t)}.py" for t in tests
               if not os.path.isfile(os.path.join(HERE, f"{scenario_of(t)}.py"))]
    if missing:
        raise BadInput(f"no python twin in {HERE} for: {', '.join(missing)}")

    workdir = tempfile.mkdtemp(prefix="lc-oracle-")
    try:
        trace_dir = args.keep or os.path.join(workdir, "traces")
        os.makedirs(trace_dir, exist_ok=True)
        env = dict(os.environ, LOOPCONF_TRACE_DIR=os.path.abspath(trace_dir),
                   LOOPCONF_TIME_MULTIPLIER=f"{mult:g}")
        tap = os.path.join(workdir, "run.tap")
        cmd = [loopconf, "run", "--test", ",".join(tests), "-q", "--tap", tap,
               "--jobs", args.jobs]
        if args.backend:
            cmd += ["--backend", args.backend]
        for a in args.adapter:
            cmd += ["--adapter", a]
        shown = [c if c != cmd[3] else f"<{len(tests)} semantic tests>" for c in cmd]
        print(f"oracle: {' '.join(shown)}", flush=True)
        try:
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise BadInput(f"cannot run {loopconf}: {exc}") from None
        if run.returncode == 2:
            raise BadInput(f"loopconf run refused its input: {run.stderr.strip()}")
        cells = parse_tap(tap)
        backends = []
        for (b, _t) in cells:
            if b not in backends:
                backends.append(b)
        if not backends:  # no TAP: take whatever wrote traces
            backends = sorted(d for d in os.listdir(trace_dir)
                              if os.path.isdir(os.path.join(trace_dir, d)))
        if not backends:
            raise BadInput(f"loopconf run produced no results: {run.stderr.strip()}")

        twin_env = dict(os.environ, LOOPCONF_TIME_MULTIPLIER=f"{mult:g}",
                        PYTHONDONTWRITEBYTECODE="1")  # no __pycache__ in the source tree
        twin_env.pop("LOOPCONF_TRACE_DIR", None)
        twin_path = {t: os.path.join(HERE, f"{scenario_of(t)}.py") for t in tests}
        expected = {t: run_twin(twin_path[t], mult, twin_env) for t in tests}
        retried = []  # notes: sides run again because they waited for a CPU

        def rerun_c(t, b):
            """One more run of the C cell, into its own trace directory; its trace or None."""
            d = tempfile.mkdtemp(prefix="retry-", dir=workdir)
            c_env = dict(env, LOOPCONF_TRACE_DIR=d)
            # The same selection as the first run (an adapter is known by its path there),
            # this one test only; the trace of backend b is the one wanted.
            c_cmd = [loopconf, "run", "--test", t, "-q"] + cmd[cmd.index("--jobs") + 2:]
            subprocess.run(c_cmd, env=c_env, capture_output=True, text=True, check=False)
            again = os.path.join(d, b, f"{scenario_of(t)}.trace")
            return read_trace(again) if os.path.exists(again) else None

        matrix, problems = {}, []
        passed = failed = skipped = xfailed = 0
        for t in tests:
            for b in backends:
                status = cells.get((b, t), "pass")
                if status == "xfail":
                    # The backend fails this scenario the way its expectations file says (a
                    # loop deviation, not the runtime's): its trace is not the runtime's to judge.
                    matrix[(t, b)] = "xfail"
                    xfailed += 1
                    continue
                path = os.path.join(trace_dir, b, f"{scenario_of(t)}.trace")
                if status == "skip" and not os.path.exists(path):
                    matrix[(t, b)] = "skip"
                    skipped += 1
                    continue
                if not os.path.exists(path):
                    why = "no trace (the test did not reach lc_trace_begin)"
                else:
                    c_lines = read_trace(path)
                    why = compare(c_lines, expected[t], mult)
                    # A side that waited for a CPU beyond the tolerance may have had its
                    # events reordered by the machine, not by the runtime: run that side
                    # again (the twin: a starved reference is no reference), a few times.
                    for _ in range(RETRIES):
                        if why is None:
                            break
                        tw, cw = waited_ms(expected[t]), waited_ms(c_lines)
                        if max(tw, cw) < ABS_TOL_MS:
                            break
                        if tw >= cw:
                            expected[t] = run_twin(twin_path[t], mult, twin_env)
                            retried.append(f"{t}: twin re-run (waited {tw} ms for a CPU)")
                        else:
                            again = rerun_c(t, b)
                            if again is None:
                                break
                            c_lines = again
                            retried.append(f"{b}/{t}: C re-run (waited {cw} ms for a CPU)")
                        why = compare(c_lines, expected[t], mult)
                if why is None:
                    matrix[(t, b)] = "ok"
                    passed += 1
                else:
                    matrix[(t, b)] = "DIFF"
                    failed += 1
                    problems.append((t, b, why))

        w = max(len(t) for t in tests)
        cw = [max(len(b), 4) for b in backends]
        print(f"\n{'TEST':<{w}}  " + "  ".join(f"{b:<{c}}" for b, c in zip(backends, cw)))
        for t in tests:
            print(f"{t:<{w}}  " + "  ".join(f"{matrix[(t, b)]:<{c}}"
                                            for b, c in zip(backends, cw)))
        if problems:
            print("\nmismatches (C runtime vs CPython asyncio):")
            for t, b, why in problems:
                names = " ".join(clauses.get(t, [])) or "(no clause names this test)"
                print(f"  {b}/{t}: {why}\n    clauses: {names}")
        if run.returncode != 0:
            print(f"\nnote: loopconf run exited {run.returncode}: some C assertions failed or "
                  "timed out (see `loopconf run --tier semantics`)")
        if retried:
            print("\nnote: run again because the side waited for a CPU beyond the tolerance "
                  "(a busy machine):\n  " + "\n  ".join(retried))
        if skipped:
            print(f"\nnote: {skipped} cell(s) skipped (backend lacks a capability)")
        if xfailed:
            print(f"\nnote: {xfailed} cell(s) not compared: an expected failure of the backend "
                  "(XFAIL, reason in its expectations file)")
        print(f"\noracle: {passed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
