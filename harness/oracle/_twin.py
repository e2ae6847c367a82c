"""_twin.py: shared helpers for the asyncio twins of the semantic scenarios (stdlib only).

Each twin prints the trace lines its C scenario writes through lc_trace.h: the same text, and
the same timing tokens " @<N>ms" (ms since begin(), rounded) on the same events.
"""
import asyncio
import errno
import os
import sys
import time

_t0 = time.monotonic()


_wait0 = 0


def host_steal_ns():
    """The hypervisor's steal from all CPUs so far (/proc/stat), in ns; 0 when not reported."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * (1000000000 // os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return 0


def run_delay_ns():
    """How long the main thread has waited, runnable, for a CPU (/proc/self/schedstat's
    run_delay) plus the host's steal from all CPUs, as lc_cpu_wait_ns reads them; 0 when
    the kernel says neither."""
    try:
        with open("/proc/self/schedstat") as f:
            wait = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        wait = 0
    return wait + host_steal_ns()


def begin():
    """Set the trace clock's zero to now (lc_trace_begin)."""
    global _t0, _wait0
    _t0 = time.monotonic()
    _wait0 = run_delay_ns()


def elapsed_ms():
    return (time.monotonic() - _t0) * 1000.0


def trace(line):
    """One trace line (lc_trace)."""
    print(line, flush=True)


def trace_at(line):
    """One trace line with the timing token (lc_trace_at)."""
    ms = int((time.monotonic() - _t0) * 1000.0 + 0.5)
    wait_ms = (run_delay_ns() - _wait0 + 500000) // 1000000
    print(f"{line} @{ms}ms ~{wait_ms}ms", flush=True)


def code(exc=None):
    """The trace spelling of an outcome: "ok", or the errno name C returns for it."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):
        return "ECANCELED"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "ETIMEDOUT"
    if isinstance(exc, OSError) and exc.errno in errno.errorcode:
        return errno.errorcode[exc.errno]
    return type(exc).__name__


def fail(err):
    """The exception a C task signals by returning -err (an errno constant)."""
    return OSError(err, f"{errno.errorcode[err]}")


def run(main, debug=False):
    """asyncio.run(main()) followed by the closing line "run -> <code>" (lc_trace_run)."""
    begin()
    try:
        asyncio.run(main(), debug=debug)
        trace("run -> ok")
    except BaseException as exc:  # noqa: B902 - the code of whatever main ended with
        trace(f"run -> {code(exc)}")
    sys.stdout.flush()
