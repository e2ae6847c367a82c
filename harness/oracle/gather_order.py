"""Twin of semantics.gather.order: results in argument order whatever the finishing order."""
import asyncio
from _twin import run, trace_at
from _gchild import gchild, fmt


async def main():
    ts = [asyncio.create_task(gchild(n, d, v), name=n) for n, d, v in
          (("a", 30, 1), ("b", 10, 2), ("c", 20, 3))]
    res = await asyncio.gather(*ts)
    trace_at(f"gather -> ok {fmt(res)}")


run(main)
