"""Twin of semantics.waitfor.outer_cancel: cancelling the waiter cancels the inner."""
import asyncio
from _twin import run, trace_at, code
from _inner import inner


async def waiter():
    t = asyncio.create_task(inner(2000, cleanup_ms=10), name="inner")
    try:
        await asyncio.wait_for(t, 1.0)
    except asyncio.CancelledError:
        trace_at("w: wait_for -> ECANCELED")
        raise


async def main():
    w = asyncio.create_task(waiter(), name="w")
    await asyncio.sleep(0.010)
    trace_at(f"main: cancel(w) -> {int(w.cancel())}")
    try:
        await w
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    trace_at(f"main: await w -> {code(rc)}")


run(main)
