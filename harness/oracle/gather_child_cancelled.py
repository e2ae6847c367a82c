"""Twin of semantics.gather.child_cancelled: a cancelled child counts as CancelledError."""
import asyncio
from _twin import run, trace_at, code
from _gchild import gchild, fmt


async def main():
    t = [asyncio.create_task(gchild(n, d, v), name=n) for n, d, v in
         (("a", 30, 1), ("b", 500, 2), ("c", 60, 3), ("d", 500, 4), ("e", 120, 5))]
    await asyncio.sleep(0.005)
    trace_at(f"cancel(b) -> {int(t[1].cancel())}")
    res = await asyncio.gather(*t[:3], return_exceptions=True)
    trace_at(f"gather(a, b, c, return_exceptions) -> ok {fmt(res)}")
    trace_at(f"cancel(d) -> {int(t[3].cancel())}")
    try:
        await asyncio.gather(*t[3:])
        rc = None
    except asyncio.CancelledError as exc:
        rc = exc
    me = asyncio.current_task()
    trace_at(f"gather(d, e) -> {code(rc)}, main cancelling={me.cancelling()}")
    v = await t[4]
    trace_at(f"await e -> ok {v}")


run(main)
