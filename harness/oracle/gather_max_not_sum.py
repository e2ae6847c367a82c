"""Twin of semantics.gather.max_not_sum: gather of 8 sleeps takes the max, not the sum."""
import asyncio
from _twin import run, trace_at
from _gchild import gchild


async def main():
    ts = [asyncio.create_task(gchild(f"s{i + 1}", 10 * (8 - i), i, quiet=True))
          for i in range(8)]
    await asyncio.gather(*ts)
    trace_at("gather of 8 -> ok")


run(main)
