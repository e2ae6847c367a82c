"""Twin of semantics.cancel.await_propagates: cancelling an awaiter cancels the awaited."""
import asyncio
from _twin import run, trace_at
from _worker import worker, outcome, state


async def waiter():
    c = asyncio.create_task(worker("c", 1000, cleanup_ms=10), name="c")
    rc, _ = await outcome(c)
    trace_at(f"w: await c -> {rc}, c cleanup done: {'yes' if state['c']['cleanup_done'] else 'no'}")
    if rc == "ECANCELED":
        raise asyncio.CancelledError()


async def main():
    w = asyncio.create_task(waiter(), name="w")
    await asyncio.sleep(0.010)
    trace_at(f"main: cancel(w) -> {int(w.cancel())}")
    rc, _ = await outcome(w)
    trace_at(f"main: await w -> {rc}")


run(main)
