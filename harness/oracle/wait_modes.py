"""Twin of semantics.wait.modes: asyncio.wait. FIRST_COMPLETED returns when one task is done,
FIRST_EXCEPTION when one failed (or all are done), ALL_COMPLETED when all are; with a timeout it
returns what is done when it passes (no TimeoutError); it always suspends, even when the tasks
are done already; cancelling the waiting task does not cancel the tasks."""
import asyncio
import errno
from _twin import run, trace, trace_at, fail

ticks = 0


async def job(ms, err=0):
    await asyncio.sleep(ms / 1000.0)
    if err:
        raise fail(err)
    return ms


async def ticker():
    global ticks
    for _ in range(5):
        ticks += 1
        await asyncio.sleep(0)


def flags(ts, done):
    return "[" + ", ".join(str(int(t in done)) for t in ts) + "]"


async def main():
    a = asyncio.create_task(job(30), name="a")
    b = asyncio.create_task(job(60, errno.EIO), name="b")
    c = asyncio.create_task(job(120), name="c")
    done, _ = await asyncio.wait([a, b, c], return_when=asyncio.FIRST_COMPLETED)
    trace_at(f"FIRST_COMPLETED -> {flags([a, b, c], done)}")
    done, _ = await asyncio.wait([b, c], return_when=asyncio.FIRST_EXCEPTION)
    trace_at(f"FIRST_EXCEPTION -> {flags([b, c], done)}")
    done, _ = await asyncio.wait([c], timeout=0.015)
    trace_at(f"ALL_COMPLETED, timeout 15 ms -> {flags([c], done)}")
    done, _ = await asyncio.wait([a, b, c])
    trace_at(f"ALL_COMPLETED -> {flags([a, b, c], done)}")
    tk = asyncio.create_task(ticker(), name="ticker")
    await asyncio.sleep(0)
    before = ticks
    done, _ = await asyncio.wait([a, c])
    trace(f"wait on done tasks -> {flags([a, c], done)}, other tasks ran meanwhile: "
          f"{int(ticks != before)}")
    await tk
    d = asyncio.create_task(job(90), name="d")
    w = asyncio.create_task(asyncio.wait([d]), name="w")
    await asyncio.sleep(0.005)
    w.cancel()
    try:
        await w
    except asyncio.CancelledError:
        trace(f"cancelled wait -> ECANCELED, d cancelled: {int(d.cancelled())}")
    trace_at(f"d -> {await d}")
    try:
        await b
    except OSError:
        pass


run(main)
