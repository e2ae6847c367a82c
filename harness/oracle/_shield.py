"""_shield.py: the shield scenarios' body (so_main in C); cancel_inner picks the variant."""
import asyncio
from _twin import trace_at
from _worker import worker, outcome


async def shield_main(inner_args, cancel_inner):
    inner = asyncio.create_task(worker("inner", **inner_args), name="inner")

    async def waiter():
        rc, _ = await outcome(asyncio.shield(inner))
        trace_at(f"w: shield -> {rc}, w cancelling={asyncio.current_task().cancelling()}")
        if rc == "ECANCELED":
            raise asyncio.CancelledError()

    w = asyncio.create_task(waiter(), name="w")
    await asyncio.sleep(0.010)
    if cancel_inner:
        trace_at(f"main: cancel(inner) -> {int(inner.cancel())}")
    else:
        trace_at(f"main: cancel(w) -> {int(w.cancel())}")
    rc, _ = await outcome(w)
    trace_at(f"main: await w -> {rc}")
    rc, v = await outcome(inner)
    trace_at(f"main: await inner -> {rc} {v if v is not None else 0}, "
             f"inner cancelled={int(inner.cancelled())}")
