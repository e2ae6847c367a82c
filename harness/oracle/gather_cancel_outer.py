"""Twin of semantics.gather.cancel_outer: cancelling the gathering task cancels the children."""
import asyncio
from _twin import run, trace_at, code
from _gchild import gchild


async def gatherer():
    ts = [asyncio.create_task(gchild(n, d, v), name=n) for n, d, v in
          (("a", 10, 1), ("b", 500, 2), ("c", 600, 3))]
    try:
        await asyncio.gather(*ts)
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    trace_at(f"g: gather -> {code(rc)}")
    if rc:
        raise rc


async def main():
    g = asyncio.create_task(gatherer(), name="g")
    await asyncio.sleep(0.050)  # 40 ms after a finished: a loaded machine cannot reorder them
    trace_at(f"main: cancel(g) -> {int(g.cancel())}")
    try:
        await g
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    trace_at(f"main: await g -> {code(rc)}")


run(main)
