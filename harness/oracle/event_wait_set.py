"""Twin of semantics.event.wait_set: set wakes all in order, no suspension when set, clear."""
import asyncio
from _twin import run, trace, trace_at

x_ran = []


async def waiter(i, ev):
    await ev.wait()
    trace_at(f"w{i} woke -> ok")


async def x():
    x_ran.append(1)
    trace("x ran")


async def main():
    ev = asyncio.Event()
    t = [asyncio.create_task(waiter(i, ev), name=f"w{i}") for i in range(3)]
    await asyncio.sleep(0.010)
    trace_at("set")
    ev.set()
    await asyncio.gather(*t)
    xt = asyncio.create_task(x(), name="x")
    await ev.wait()
    trace(f"wait on a set event -> ok, x ran meanwhile: {'yes' if x_ran else 'no'}")
    ev.clear()
    trace(f"cleared; is_set={int(ev.is_set())}")
    w3 = asyncio.create_task(waiter(3, ev), name="w3")
    await asyncio.sleep(0.010)
    trace_at("set again")
    ev.set()
    await w3
    await xt


run(main)
