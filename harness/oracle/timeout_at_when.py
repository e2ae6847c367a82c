"""Twin of semantics.timeout.at_when: asyncio.timeout_at(when) expires at the absolute deadline;
the scope's when() is that deadline (None for no deadline); a deadline already past expires at
once (at the next iteration)."""
import asyncio
from _twin import run, trace, trace_at, code


async def main():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        async with asyncio.timeout_at(t0 + 0.020) as cm:
            trace(f"when-start={round((cm.when() - t0) * 1000)}ms")
            await asyncio.sleep(1)
    except TimeoutError as exc:
        trace_at(f"timeout_at -> {code(exc)}, expired={int(cm.expired())}")
    async with asyncio.timeout(None) as cm:
        trace(f"timeout(None).when() -> {'none' if cm.when() is None else 'set'}")
    try:
        async with asyncio.timeout_at(loop.time() - 1):
            await asyncio.sleep(1)
    except TimeoutError as exc:
        trace_at(f"past deadline -> {code(exc)}")


run(main)
