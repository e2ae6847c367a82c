"""Twin of semantics.waitfor.swallowed_cancel: an inner that swallows the cancel gives its value."""
import asyncio
from _twin import run, trace_at
from _inner import inner


async def main():
    t = asyncio.create_task(inner(1000, swallow=True, swallow_value=7), name="inner")
    v = await asyncio.wait_for(t, 0.200)
    trace_at(f"wait_for -> ok {v}")


run(main)
