"""Twin of semantics.waitfor.no_timeout: wait_for(aw, None) is `await aw`: it waits as long as
it takes; cancelling the caller cancels the inner task, and a value the inner returns after
swallowing the cancellation is what the caller gets."""
import asyncio
from _twin import run, trace, trace_at


async def inner(ms, value, swallow=False):
    try:
        await asyncio.sleep(ms / 1000.0)
    except asyncio.CancelledError:
        trace("inner cancelled")
        if swallow:
            asyncio.current_task().uncancel()
            return value
        raise
    return value


async def caller(t):
    r = await asyncio.wait_for(t, None)
    trace(f"caller -> ok {r}")
    return r


async def main():
    r = await asyncio.wait_for(asyncio.create_task(inner(20, 5), name="inner"), None)
    trace_at(f"wait_for(None) -> ok {r}")
    t = asyncio.create_task(inner(1000, 7, swallow=True), name="inner")
    c = asyncio.create_task(caller(t), name="caller")
    await asyncio.sleep(0.005)
    c.cancel()
    r = await c
    trace(f"cancelled caller -> ok {r}, inner cancelled: {int(t.cancelled())}")


run(main)
