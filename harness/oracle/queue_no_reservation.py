"""Twin of semantics.queue.no_reservation: Queue makes no hand-off reservations. A put wakes
the first getter, but the item stays in the queue (size 1) until that getter runs; a newcomer's
get_nowait may take it first, and the woken getter then waits again, at the back. Likewise a
freed slot: the woken putter competes with a newcomer's put_nowait."""
import asyncio
from _twin import run, trace


async def getter(name, q):
    item = await q.get()
    trace(f"{name} got {item}")


async def putter(name, q, item):
    await q.put(item)
    trace(f"{name} put {item}")


async def main():
    q = asyncio.Queue()
    g1 = asyncio.create_task(getter("g1", q), name="g1")
    g2 = asyncio.create_task(getter("g2", q), name="g2")
    await asyncio.sleep(0.005)
    q.put_nowait(1)  # wakes g1
    trace(f"put 1, size={q.qsize()}, empty={int(q.empty())}")
    trace(f"newcomer get_nowait -> {q.get_nowait()}")
    await asyncio.sleep(0.005)  # g1 found the queue empty and waits again, behind g2
    q.put_nowait(2)
    q.put_nowait(3)
    await asyncio.gather(g1, g2)
    q = asyncio.Queue(1)
    q.put_nowait(10)
    p1 = asyncio.create_task(putter("p1", q, 11), name="p1")
    await asyncio.sleep(0.005)
    trace(f"get_nowait -> {q.get_nowait()}, full={int(q.full())}")  # wakes p1
    q.put_nowait(12)  # the newcomer takes the slot
    trace(f"newcomer put 12, size={q.qsize()}, full={int(q.full())}")
    await asyncio.sleep(0.005)  # p1 found the queue full and waits again
    trace(f"get_nowait -> {q.get_nowait()}")
    await p1
    trace(f"get_nowait -> {q.get_nowait()}, size={q.qsize()}")


run(main)
