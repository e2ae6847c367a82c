"""Twin of semantics.timeout.expire: a scope's fixed deadline, TimeoutError at exit."""
import asyncio
from _twin import run, trace_at, code


async def main():
    rc = None
    try:
        async with asyncio.timeout(0.050) as cm:
            await asyncio.sleep(0.020)
            trace_at("sleep(20ms) -> ok")
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                trace_at("sleep(1s) -> ECANCELED")
                raise
    except TimeoutError as exc:
        rc = exc
    me = asyncio.current_task()
    trace_at(f"scope -> {code(rc)}, expired={int(cm.expired())}, cancelling={me.cancelling()}")


run(main)
