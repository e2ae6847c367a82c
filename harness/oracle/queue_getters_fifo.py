"""Twin of semantics.queue.getters_fifo: getters parked on an empty queue are served FIFO."""
import asyncio
from _twin import code, run, trace


async def getter(i, q):
    trace(f"g{i} waiting")
    try:
        item = await q.get()
    except BaseException as exc:  # noqa: B902 - traced like the C code
        trace(f"g{i} get -> {code(exc)}, item -1")
        raise
    trace(f"g{i} get -> ok, item {item}")
    return item


async def main():
    q = asyncio.Queue()
    ts = [asyncio.create_task(getter(i, q), name=f"g{i}") for i in range(1, 5)]
    await asyncio.sleep(0.005)
    trace("put 1..4")
    for i in range(1, 5):
        q.put_nowait(i)
    await asyncio.gather(*ts)
    trace(f"gather -> ok, size {q.qsize()}")


run(main)
