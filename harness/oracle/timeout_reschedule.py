"""Twin of semantics.timeout.reschedule: moving a scope's deadline later or to never."""
import asyncio
from _twin import run, trace, trace_at, code


async def main():
    loop = asyncio.get_running_loop()
    rc = None
    try:
        async with asyncio.timeout(0.020) as cm:
            cm.reschedule(loop.time() + 0.060)
            trace("reschedule(+60ms) -> ok")
            await asyncio.sleep(1.0)
    except TimeoutError as exc:
        rc = exc
    trace_at(f"scope -> {code(rc)}, expired={int(cm.expired())}")
    try:
        cm.reschedule(loop.time() + 0.060)
        refused = "no"
    except RuntimeError:
        refused = "yes"
    trace(f"reschedule after expiry refused: {refused}")
    async with asyncio.timeout(0.020) as cm:
        cm.reschedule(None)
        trace("reschedule(never) -> ok")
        await asyncio.sleep(0.040)
        trace_at("sleep(40ms) -> ok")
    trace_at(f"scope -> ok, expired={int(cm.expired())}")


run(main)
