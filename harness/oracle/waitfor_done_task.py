"""Twin of semantics.waitfor.done_task: wait_for on a task that is already done.

VERSION-DEPENDENT (clause WAITFOR-DONE-VERSION). CPython 3.12+ implements wait_for with a
timeout scope around `await fut`, and awaiting a done task does not suspend: the result comes
back before any other task runs. CPython 3.11's wait_for (timeout > 0) registers a done
callback and awaits a waiter future, so it suspends for two iterations and a ready ticker
advances meanwhile. The runtime follows 3.12+ (as awaiting a done task, SCHED-AWAIT-DONE). On
3.11 this twin checks that CPython really suspends and prints the 3.12+ line."""
import asyncio
import sys
from _twin import run, trace

ticks = 0


async def child():
    return 7


async def ticker():
    global ticks
    for _ in range(5):
        ticks += 1
        await asyncio.sleep(0)


async def main():
    c = asyncio.create_task(child(), name="child")
    await asyncio.sleep(0)
    tk = asyncio.create_task(ticker(), name="ticker")
    await asyncio.sleep(0)  # the ticker starts
    before = ticks
    r = await asyncio.wait_for(c, 1.0)
    suspended = int(ticks != before)
    if sys.version_info < (3, 12):
        assert suspended == 1, "CPython 3.11's wait_for on a done task suspends"
        suspended = 0  # the 3.12+ rule the runtime follows
    trace(f"wait_for(done task, 1 s) -> {r}, other tasks ran meanwhile: {suspended}")
    await tk


run(main)
