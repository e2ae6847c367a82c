"""Twin of semantics.gather.error_siblings_continue: first error raised, siblings not cancelled."""
import asyncio
import errno
from _twin import run, trace_at, code
from _gchild import gchild


async def main():
    a = asyncio.create_task(gchild("a", 10, err=errno.EIO), name="a")
    b = asyncio.create_task(gchild("b", 30, 2), name="b")
    try:
        await asyncio.gather(a, b)
        rc = None
    except OSError as exc:
        rc = exc
    trace_at(f"gather -> {code(rc)}, b done: {'yes' if b.done() else 'no'}")
    v = await b
    trace_at(f"await b -> ok {v}, b cancelled: {'yes' if b.cancelled() else 'no'}")


run(main)
