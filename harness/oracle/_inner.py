"""_inner.py: the inner task the wait_for twins share (inner_fn in C)."""
import asyncio
from _twin import trace, trace_at

state = {"started": False, "cancelled": False, "cleanup_done": False}


async def inner(sleep_ms, cleanup_ms=0, value=0, swallow=False, swallow_value=0):
    state["started"] = True
    trace("inner start")
    try:
        await asyncio.sleep(sleep_ms / 1000.0)
    except asyncio.CancelledError:
        state["cancelled"] = True
        trace_at("inner cancelled")
        if cleanup_ms:
            await asyncio.sleep(cleanup_ms / 1000.0)  # cleanup may await
            state["cleanup_done"] = True
            trace_at("inner cleanup done")
        if swallow:
            asyncio.current_task().uncancel()
            trace(f"inner swallowed the cancel, returns {swallow_value}")
            return swallow_value
        raise
    trace_at("inner done")
    return value
