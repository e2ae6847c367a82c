"""Twin of semantics.sched.await_done: awaiting a done task does not yield to the loop."""
import asyncio
from _twin import run, trace

x_ran = []


async def seven():
    return 7


async def x():
    x_ran.append(1)
    trace("x ran")


async def main():
    t = asyncio.create_task(seven(), name="t")
    await asyncio.sleep(0)
    trace(f"t done: {'yes' if t.done() else 'no'}")
    xt = asyncio.create_task(x(), name="x")
    v = await t
    trace(f"await t -> ok {v}, x ran meanwhile: {'yes' if x_ran else 'no'}")
    await xt
    trace("await x done")


run(main)
