"""Twin of semantics.waitfor.ok: an inner finishing in time gives its value."""
import asyncio
from _twin import run, trace_at
from _inner import inner


async def main():
    t = asyncio.create_task(inner(10, value=5), name="inner")
    v = await asyncio.wait_for(t, 0.200)
    trace_at(f"wait_for -> ok {v}")


run(main)
