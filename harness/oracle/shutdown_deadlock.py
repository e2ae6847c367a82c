"""Twin of semantics.shutdown.deadlock: every task waits for ever.

asyncio never notices: it would wait for ever. The twin shows that hang (a watchdog, the only
other thing scheduled, finds both tasks still waiting after 0.3 s), then does what the C
runtime does instead of hanging: cancels the waiting tasks, lets their cleanup run, and ends
with EDEADLK.
"""
import asyncio
import time
from _twin import trace, begin

progress = {"start": time.monotonic(), "hung": False}


async def waiter(ev):
    try:
        await ev.wait()
    except asyncio.CancelledError:
        trace("w: wait -> ECANCELED")
        raise


async def main():
    loop = asyncio.get_running_loop()
    ev = asyncio.Event()
    w = asyncio.create_task(waiter(ev), name="w")
    trace("main waits for w, which waits for an event nobody sets")
    me = asyncio.current_task()

    def watchdog():
        if time.monotonic() - progress["start"] >= 0.3 and not (w.done() or ev.is_set()):
            progress["hung"] = True  # asyncio would stay here for ever
            for t in (w, me):
                t.cancel()
        else:
            loop.call_later(0.05, watchdog)

    loop.call_later(0.05, watchdog)
    try:
        await w
    except asyncio.CancelledError:
        trace("main: await w -> ECANCELED")
        raise


begin()
try:
    asyncio.run(main())
    trace("run -> ok")
except asyncio.CancelledError:
    trace("run -> EDEADLK" if progress["hung"] else "run -> ECANCELED")
