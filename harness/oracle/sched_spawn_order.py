"""Twin of semantics.sched.spawn_order: deferred body, FIFO start, early cancel."""
import asyncio
from _twin import run, trace, code

started = []


async def child(i):
    started.append(i)
    trace(f"t{i} start")
    return i


async def main():
    t = {i: asyncio.create_task(child(i), name=f"t{i}") for i in (1, 2, 3, 4)}
    trace(f"main spawned 4, bodies run so far: {len(started)}")
    trace(f"cancel(t4) -> {int(t[4].cancel())}")
    await asyncio.sleep(0)
    trace("main resumed -> ok")
    res = [await t[i] for i in (1, 2, 3)]
    trace(f"results {res[0]} {res[1]} {res[2]}")
    try:
        await t[4]
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    trace(f"await t4 -> {code(rc)}, body ran: {'yes' if 4 in started else 'no'}")


run(main)
