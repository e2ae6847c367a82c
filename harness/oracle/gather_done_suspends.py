"""Twin of semantics.gather.done_suspends: gather of tasks that are already done still
suspends the caller: each child's done callback goes through call_soon, and the outer future
wakes the caller one more iteration later. So other ready tasks run first. Also shown: the
caller of gather resumes two iterations after the last child finished (child done -> gather's
_done_callback -> the caller's wakeup), where awaiting the task directly takes one."""
import asyncio
from _twin import run, trace


async def child(v):
    return v


async def ticker(n):
    for k in range(1, n + 1):
        trace(f"tick {k}")
        await asyncio.sleep(0)


async def main():
    c = [asyncio.create_task(child(i), name=f"c{i}") for i in (1, 2)]
    await asyncio.sleep(0)
    trace(f"children done: {int(c[0].done() and c[1].done())}")
    tk = asyncio.create_task(ticker(3), name="ticker")
    await asyncio.sleep(0)  # the ticker starts: tick 1
    res = await asyncio.gather(*c)
    trace(f"gather of done tasks -> {res}")
    await tk
    # A running child: gather resumes two iterations after it finished, await one.
    c3 = asyncio.create_task(child(3), name="c3")
    tk = asyncio.create_task(ticker(4), name="ticker")
    res = await asyncio.gather(c3)
    trace(f"gather -> {res}")
    await tk
    c4 = asyncio.create_task(child(4), name="c4")
    tk = asyncio.create_task(ticker(4), name="ticker")
    res = await c4
    trace(f"await -> {res}")
    await tk


run(main)
