"""_worker.py: the worker task the cancel/shield/shutdown twins share (worker_fn in C)."""
import asyncio
from _twin import trace, trace_at, code

state = {}


async def worker(name, sleep_ms, cleanup_ms=0, value=0, swallow=False, swallow_value=0,
                 uncancel=0):
    st = state.setdefault(name, {"cancelled": False, "cleanup_done": False})
    trace(f"{name} start")
    try:
        await asyncio.sleep(sleep_ms / 1000.0)
    except asyncio.CancelledError:
        me = asyncio.current_task()
        st["cancelled"] = True
        trace_at(f"{name} cancelled, cancelling={me.cancelling()}")
        if cleanup_ms:
            try:
                await asyncio.sleep(cleanup_ms / 1000.0)  # cleanup may await
                crc = None
            except asyncio.CancelledError as exc:
                crc = exc
            st["cleanup_done"] = True
            trace_at(f"{name} cleanup done -> {code(crc)}")
        for _ in range(uncancel):
            trace(f"{name} uncancel -> {me.uncancel()}")
        if swallow:
            return swallow_value
        raise
    trace_at(f"{name} done")
    return value


async def outcome(aw):
    """(code, value) of awaiting aw."""
    try:
        return "ok", await aw
    except BaseException as exc:  # noqa: B902 - the outcome is what we trace
        return code(exc), None
