"""Twin of semantics.tg.late_child_failure: a child fails after the body finished.

VERSION-DEPENDENT (clause TG-LATE-FAILURE). The group cancels the task waiting in its exit.
CPython 3.11's (and 3.12's) TaskGroup.__aexit__ withdraws that request (uncancel) only if it
was made before the exit started waiting, so here the task leaves the group with
cancelling() == 1; 3.13 (gh-116720) moved the uncancel after the wait and it reads 0. The
runtime follows 3.13+. Before 3.13 this twin checks that CPython really leaves 1 (so the
clause's claim stays true) and prints the line 3.13+ produces; on 3.13+ it prints what CPython
prints."""
import errno
import sys
import _tg
from _twin import run, trace_at as _trace_at


def trace_at(line):
    if sys.version_info < (3, 13):
        assert line.endswith("main cancelling=1") or "main cancelling=" not in line, line
        line = line.replace("main cancelling=1", "main cancelling=0")  # the 3.13+ rule
    _trace_at(line)


_tg.trace_at = trace_at


async def main():
    await _tg.tg_main([("a", 10, errno.EIO, 0)], 0)


run(main)
