"""Twin of semantics.cancel.parked_queue: a Queue getter (putter) cancelled and uncancelled
before an item (a slot) arrives never receives it: get_nowait returns the item, put_nowait
takes the slot, the cancelled task gets CancelledError, and no item is lost or duplicated."""
import asyncio
from _twin import run, trace, code


async def getter(q):
    try:
        item = await q.get()
    except asyncio.CancelledError as exc:
        trace(f"getter -> {code(exc)}")
        raise
    trace(f"getter got {item}")


async def putter(q):
    try:
        await q.put(2)
    except asyncio.CancelledError as exc:
        trace(f"putter -> {code(exc)}")
        raise
    trace("putter put 2")


async def main():
    q = asyncio.Queue()
    g = asyncio.create_task(getter(q), name="getter")
    await asyncio.sleep(0.005)
    g.cancel()
    trace(f"cancel(getter), uncancel -> {g.uncancel()}")
    q.put_nowait(5)
    trace(f"put 5, size={q.qsize()}, get_nowait -> {q.get_nowait()}, size={q.qsize()}")
    await asyncio.gather(g, return_exceptions=True)
    q = asyncio.Queue(1)
    q.put_nowait(1)
    p = asyncio.create_task(putter(q), name="putter")
    await asyncio.sleep(0.005)
    p.cancel()
    trace(f"cancel(putter), uncancel -> {p.uncancel()}")
    trace(f"get_nowait -> {q.get_nowait()}")
    q.put_nowait(3)
    trace(f"put_nowait 3, size={q.qsize()}, full={int(q.full())}")
    await asyncio.gather(p, return_exceptions=True)
    trace(f"get_nowait -> {q.get_nowait()}, empty={int(q.empty())}")


run(main)
