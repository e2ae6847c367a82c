"""Twin of semantics.queue.shutdown: Python 3.13 Queue.shutdown (emulated on 3.11, _queue313)."""
import asyncio
from _twin import run, trace
from _queue313 import Queue, QueueShutDown


async def main():
    q = Queue()

    async def getter():
        try:
            await q.get()
            rc = "ok"
        except QueueShutDown:
            rc = "ESHUTDOWN"
        trace(f"blocked get -> {rc}")

    g = asyncio.create_task(getter(), name="getter")
    await asyncio.sleep(0)
    q.shutdown()
    trace("shutdown")
    await g

    q = Queue()
    q.put_nowait(1)
    q.put_nowait(2)
    q.shutdown()
    try:
        await q.put(3)
        rc = "ok"
    except QueueShutDown:
        rc = "ESHUTDOWN"
    trace(f"put after shutdown -> {rc}")
    a, b = await q.get(), await q.get()
    try:
        await q.get()
        rc = "ok"
    except QueueShutDown:
        rc = "ESHUTDOWN"
    trace(f"get -> ok {a}, get -> ok {b}, get -> {rc}")

    q = Queue()
    q.put_nowait(1)

    async def joiner():
        await q.join()
        trace("join -> ok")

    j = asyncio.create_task(joiner(), name="joiner")
    await asyncio.sleep(0)
    q.shutdown(immediate=True)
    trace(f"shutdown(immediate), size={q.qsize()}")
    await j
    try:
        q.get_nowait()
        rc = "ok"
    except QueueShutDown:
        rc = "ESHUTDOWN"
    trace(f"get_nowait -> {rc}")


run(main)
