"""Twin of semantics.queue.priority_lifo: PriorityQueue hands out the smallest item first,
LifoQueue the newest; both keep Queue's waiting (a getter waiting on an empty queue gets the
first item put) and back-pressure."""
import asyncio
from _twin import run, trace


async def drain(q):
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def main():
    pq = asyncio.PriorityQueue()
    for v in (5, 1, 4, 2, 3, 1):
        pq.put_nowait(v)
    trace(f"priority -> {await drain(pq)}")
    lq = asyncio.LifoQueue()
    for v in (1, 2, 3):
        lq.put_nowait(v)
    trace(f"lifo -> {await drain(lq)}")
    g = asyncio.create_task(pq.get(), name="getter")
    await asyncio.sleep(0.005)
    pq.put_nowait(9)
    trace(f"waiting getter -> {await g}")
    lq = asyncio.LifoQueue(2)
    lq.put_nowait(1)
    lq.put_nowait(2)
    try:
        lq.put_nowait(3)
    except asyncio.QueueFull:
        trace("lifo full -> EAGAIN")


run(main)
