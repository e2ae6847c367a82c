"""Twin of semantics.timeout.cancel_inside: another task's cancel is not turned into a timeout."""
import asyncio
from _twin import run, trace, trace_at, code


async def canceller(victim):
    await asyncio.sleep(0.020)
    trace_at(f"canceller: cancel(main) -> {int(victim.cancel())}")


async def main():
    me = asyncio.current_task()
    c = asyncio.create_task(canceller(me), name="canceller")
    rc = None
    try:
        async with asyncio.timeout(0.100) as cm:
            await asyncio.sleep(1.0)
    except BaseException as exc:
        rc = exc
    trace_at(f"scope -> {code(rc)}, expired={int(cm.expired())}")
    trace(f"main uncancel -> {me.uncancel()}")
    await c


run(main)
