"""Twin of semantics.sem.bound_rounds: Semaphore(3) over 9 tasks, 3 rounds of 20 ms."""
import asyncio
from _twin import run, trace_at

st = {"in": 0, "max": 0}


async def worker(i, sem):
    async with sem:
        st["in"] += 1
        st["max"] = max(st["max"], st["in"])
        trace_at(f"w{i} in")
        await asyncio.sleep(0.020)
        st["in"] -= 1


async def main():
    sem = asyncio.Semaphore(3)
    ts = [asyncio.create_task(worker(i, sem), name=f"w{i}") for i in range(9)]
    await asyncio.gather(*ts)
    trace_at(f"all done -> ok, max in flight {st['max']}")


run(main)
