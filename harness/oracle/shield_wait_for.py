"""Twin of semantics.shield.wait_for: wait_for(shield(t), timeout) times out without
cancelling t, which runs on and keeps its result; cancelling the caller does not cancel t."""
import asyncio
from _twin import run, trace, trace_at, code


async def inner(ms, value):
    await asyncio.sleep(ms / 1000.0)
    trace_at(f"inner done {value}")
    return value


async def main():
    t = asyncio.create_task(inner(60, 9), name="inner")
    try:
        await asyncio.wait_for(asyncio.shield(t), 0.020)
    except TimeoutError as exc:
        trace_at(f"wait_for(shield) -> {code(exc)}, inner cancelled: {int(t.cancelled())}")
    trace_at(f"inner -> ok {await t}")
    u = asyncio.create_task(inner(60, 4), name="inner2")

    async def caller():
        return await asyncio.wait_for(asyncio.shield(u), 1.0)
    c = asyncio.create_task(caller(), name="caller")
    await asyncio.sleep(0.005)
    c.cancel()
    try:
        await c
    except asyncio.CancelledError:
        trace(f"cancelled caller -> ECANCELED, inner2 cancelled: {int(u.cancelled())}")
    trace_at(f"inner2 -> ok {await u}")


run(main)
