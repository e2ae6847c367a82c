"""_gchild.py: the sleeping child the gather/wait_for twins share (gchild_fn in C)."""
import asyncio
from _twin import trace, trace_at, code, fail


async def gchild(name, delay_ms, value=0, err=0, quiet=False):
    if not quiet:
        trace(f"{name} start")
    try:
        await asyncio.sleep(delay_ms / 1000.0)
    except asyncio.CancelledError:
        trace_at(f"{name} cancelled")
        raise
    if err:
        trace_at(f"{name} fails {code(fail(err))}")
        raise fail(err)
    trace_at(f"{name} done")
    return value


def fmt(outcomes):
    """[1, EIO, 3] from gather(return_exceptions=True) outcomes."""
    return "[" + ", ".join(code(o) if isinstance(o, BaseException) else str(o)
                           for o in outcomes) + "]"
