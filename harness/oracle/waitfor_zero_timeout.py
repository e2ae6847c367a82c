"""Twin of semantics.waitfor.zero_timeout: timeout 0 cancels at once."""
import asyncio
from _twin import run, trace, code
from _inner import inner, state


async def seven():
    return 7


async def main():
    t = asyncio.create_task(inner(1000), name="inner")
    try:
        await asyncio.wait_for(t, 0)
        rc = None
    except asyncio.TimeoutError as exc:
        rc = exc
    ran = "yes" if state["started"] else "no"
    trace(f"wait_for(not started, 0) -> {code(rc)}, inner ran: {ran}")
    u = asyncio.create_task(seven(), name="u")
    await asyncio.sleep(0)
    v = await asyncio.wait_for(u, 0)
    trace(f"wait_for(done, 0) -> ok {v}")


run(main)
