"""Twin of semantics.gather.return_exceptions: every child completes, errors in their slots."""
import asyncio
import errno
from _twin import run, trace_at
from _gchild import gchild, fmt


async def main():
    ts = [asyncio.create_task(gchild("a", 10, err=errno.EIO), name="a"),
          asyncio.create_task(gchild("b", 20, 2), name="b"),
          asyncio.create_task(gchild("c", 30, err=errno.EINVAL), name="c")]
    res = await asyncio.gather(*ts, return_exceptions=True)
    trace_at(f"gather -> ok {fmt(res)}")


run(main)
