"""Twin of semantics.cancel.uncancel_pending: cancel then uncancel a task that is ready (it
yielded with sleep(0)), before it runs.

VERSION-DEPENDENT (clause CANCEL-UNCANCEL-PENDING). The task waits on no future, so cancel()
only sets _must_cancel. CPython 3.11 and 3.12: uncancel() lowers the count but leaves
_must_cancel, so the task still gets CancelledError at its yield. CPython 3.13+ (gh-116720):
uncancel() reaching 0 clears _must_cancel and the yield completes. The runtime follows 3.13+.
Before 3.13 this twin checks that CPython really delivers the cancellation and prints the
3.13+ line. (A task parked on a future gets CancelledError in every version:
CANCEL-PARKED-STICKY.)"""
import asyncio
import sys
from _twin import run, trace, code


async def yielder():
    try:
        await asyncio.sleep(0)
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    if sys.version_info < (3, 13):
        assert isinstance(rc, asyncio.CancelledError), "3.11/3.12 deliver it"
        rc = None  # the 3.13+ rule the runtime follows
    trace(f"yield -> {code(rc)}, cancelling={asyncio.current_task().cancelling()}")


async def main():
    t = asyncio.create_task(yielder(), name="yielder")
    await asyncio.sleep(0)  # it runs up to its yield and is ready again
    t.cancel()
    trace(f"cancel, uncancel -> {t.uncancel()}")
    await t


run(main)
