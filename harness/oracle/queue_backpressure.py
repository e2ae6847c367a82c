"""Twin of semantics.queue.backpressure: Queue(2) keeps the producer at most 2 items ahead."""
import asyncio
from _twin import run, trace, trace_at

st = {"puts": 0, "gets": 0, "ahead": 0}


async def producer(q):
    for i in range(6):
        await q.put(i)
        st["puts"] += 1
        st["ahead"] = max(st["ahead"], st["puts"] - st["gets"])
        trace_at(f"put {i}")


async def consumer(q):
    for _ in range(6):
        item = await q.get()
        st["gets"] += 1
        trace_at(f"get {item}")
        await asyncio.sleep(0.005)


async def main():
    q = asyncio.Queue(maxsize=2)
    try:
        q.get_nowait()
    except asyncio.QueueEmpty:
        trace("get_nowait(empty) -> EAGAIN")
    p = asyncio.create_task(producer(q), name="producer")
    c = asyncio.create_task(consumer(q), name="consumer")
    await asyncio.gather(p, c)
    trace_at(f"gather -> ok, max ahead {st['ahead']}")
    q.put_nowait(10)
    q.put_nowait(11)
    try:
        q.put_nowait(12)
    except asyncio.QueueFull:
        trace(f"put_nowait(full) -> EAGAIN, size={q.qsize()}")


run(main)
