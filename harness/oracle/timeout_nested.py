"""Twin of semantics.timeout.nested: nested scopes never take each other's expiry."""
import asyncio
from _twin import run, trace_at, code


async def main():
    # Part 1: outer 100 ms, inner 20 ms.
    rc_outer = None
    try:
        async with asyncio.timeout(0.100) as outer:
            rc = None
            try:
                async with asyncio.timeout(0.020) as inner:
                    await asyncio.sleep(1.0)
            except TimeoutError as exc:
                rc = exc
            trace_at(f"inner(20ms) -> {code(rc)}, inner expired={int(inner.expired())}, "
                     f"outer expired={int(outer.expired())}")
            await asyncio.sleep(1.0)
    except TimeoutError as exc:
        rc_outer = exc
    trace_at(f"outer(100ms) -> {code(rc_outer)}, outer expired={int(outer.expired())}")
    # Part 2: outer 20 ms, inner 100 ms.
    rc_outer = None
    try:
        async with asyncio.timeout(0.020) as outer:
            try:
                async with asyncio.timeout(0.100) as inner:
                    await asyncio.sleep(1.0)
            except BaseException as exc:
                trace_at(f"inner(100ms) -> {code(exc)}, inner expired={int(inner.expired())}")
                raise
    except TimeoutError as exc:
        rc_outer = exc
    me = asyncio.current_task()
    trace_at(f"outer(20ms) -> {code(rc_outer)}, outer expired={int(outer.expired())}, "
             f"cancelling={me.cancelling()}")


run(main)
