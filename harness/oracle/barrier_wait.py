"""Twin of semantics.barrier.wait: asyncio.Barrier (3.11). wait blocks until `parties` tasks
wait, then releases them all, each with its arrival index; n_waiting counts the waiting ones;
abort breaks it (BrokenBarrierError, -EPIPE in C) for the waiting tasks and later waits; reset
breaks the current round for the waiting tasks and makes it usable again."""
import asyncio
from _twin import run, trace, trace_at


def code(exc):
    return "EPIPE" if isinstance(exc, asyncio.BrokenBarrierError) else type(exc).__name__


async def party(name, b, delay_ms):
    await asyncio.sleep(delay_ms / 1000.0)
    try:
        i = await b.wait()
        trace_at(f"{name} passed, index={i}")
    except asyncio.BrokenBarrierError as exc:
        trace_at(f"{name} wait -> {code(exc)}")


async def main():
    b = asyncio.Barrier(3)
    ts = [asyncio.create_task(party(f"w{i}", b, 20 * i * i), name=f"w{i}") for i in range(3)]
    await asyncio.sleep(0.050)
    trace(f"n_waiting={b.n_waiting}, parties={b.parties}")
    await asyncio.gather(*ts)
    trace(f"after the round: n_waiting={b.n_waiting}, broken={int(b.broken)}")
    t = asyncio.create_task(party("a", b, 0), name="a")
    await asyncio.sleep(0.005)
    await b.abort()
    await t
    trace(f"aborted: broken={int(b.broken)}")
    await party("late", b, 0)
    b = asyncio.Barrier(2)
    t = asyncio.create_task(party("r", b, 0), name="r")
    await asyncio.sleep(0.005)
    await b.reset()
    await t
    trace(f"reset: broken={int(b.broken)}, n_waiting={b.n_waiting}")
    await asyncio.gather(party("p", b, 0), party("q", b, 5))


run(main)
