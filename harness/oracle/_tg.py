"""_tg.py: the TaskGroup scenarios' body (tg_main in C)."""
import asyncio
from _twin import trace, trace_at, code, fail


async def tgchild(name, delay_ms, err=0, cleanup_err=0):
    try:
        await asyncio.sleep(delay_ms / 1000.0)
    except asyncio.CancelledError:
        if cleanup_err:
            trace_at(f"{name} cancelled, cleanup fails {code(fail(cleanup_err))}")
            raise fail(cleanup_err)
        trace_at(f"{name} cancelled")
        raise
    if err:
        trace_at(f"{name} fails {code(fail(err))}")
        raise fail(err)
    trace_at(f"{name} done")


async def tg_main(children, body_ms, body_err=0):
    """children: (name, delay_ms, err, cleanup_err) tuples."""
    errors = []
    rc = None
    try:
        async with asyncio.TaskGroup() as tg:
            for name, delay, err, cerr in children:
                tg.create_task(tgchild(name, delay, err, cerr), name=name)
            try:
                await asyncio.sleep(body_ms / 1000.0)
                brc = None
            except asyncio.CancelledError as exc:
                brc = exc
            if brc is None and body_err:
                trace_at(f"body fails {code(fail(body_err))}")
                raise fail(body_err)
            trace_at(f"body sleep -> {code(brc)}")
            if brc is not None:
                try:
                    tg.create_task(tgchild("late", 1, 0, 0))
                    refused = "no"
                except RuntimeError:
                    refused = "yes"
                trace(f"spawn while failing refused: {refused}")
                raise brc
    except BaseExceptionGroup as eg:
        errors = list(eg.exceptions)
        rc = errors[0]
    me = asyncio.current_task()
    trace_at(f"group -> {code(rc)}, errors [{', '.join(code(e) for e in errors)}], "
             f"main cancelling={me.cancelling()}")
