"""Twin of semantics.sched.yield_round_robin: sleep(0) is a bare yield, tasks interleave."""
import asyncio
from _twin import run, trace


async def child(c):
    for i in range(3):
        trace(f"{c}{i}")
        await asyncio.sleep(0)


async def main():
    ts = [asyncio.create_task(child(c), name=c) for c in "abc"]
    await asyncio.gather(*ts)
    trace("gather -> ok")


run(main)
