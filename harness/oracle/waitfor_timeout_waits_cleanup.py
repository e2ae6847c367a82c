"""Twin of semantics.waitfor.timeout_waits_cleanup: wait_for waits for the inner's cleanup."""
import asyncio
from _twin import run, trace_at, code
from _inner import inner, state


async def main():
    t = asyncio.create_task(inner(1000, cleanup_ms=20), name="inner")
    try:
        await asyncio.wait_for(t, 0.030)
        rc = None
    except asyncio.TimeoutError as exc:
        rc = exc
    done = "yes" if state["cleanup_done"] else "no"
    trace_at(f"wait_for -> {code(rc)}, inner cleanup done: {done}")


run(main)
