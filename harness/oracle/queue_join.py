"""Twin of semantics.queue.join: join waits for every task_done; one too many is refused."""
import asyncio
from _twin import run, trace, trace_at


async def worker(i, q):
    while True:
        item = await q.get()
        trace_at(f"w{i} got {item}")
        await asyncio.sleep(0.005)
        q.task_done()


async def main():
    q = asyncio.Queue()
    for i in range(4):
        q.put_nowait(i)
    t = [asyncio.create_task(worker(i, q), name=f"w{i}") for i in range(2)]
    await q.join()
    trace_at(f"join -> ok, size={q.qsize()}")
    try:
        q.task_done()
        refused = "no"
    except ValueError:
        refused = "yes"
    trace(f"task_done too many refused: {refused}")
    for w in t:
        w.cancel()
    await asyncio.gather(*t, return_exceptions=True)


run(main)
