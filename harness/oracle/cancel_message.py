"""Twin of semantics.cancel.message: task.cancel(msg): the message reaches the cancelled task,
and a task it awaits (the request travels down the await)."""
import asyncio
from _twin import run, trace


def msg(exc):
    return exc.args[0] if exc.args else ""


async def sleeper(name):
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError as exc:
        trace(f"{name} cancelled: '{msg(exc)}'")
        raise


async def outer(inner):
    try:
        await inner
    except asyncio.CancelledError as exc:
        trace(f"outer cancelled: '{msg(exc)}'")
        raise


async def main():
    s = asyncio.create_task(sleeper("sleeper"), name="sleeper")
    await asyncio.sleep(0.005)
    s.cancel("shutting down")
    await asyncio.gather(s, return_exceptions=True)
    inner = asyncio.create_task(sleeper("inner"), name="inner")
    o = asyncio.create_task(outer(inner), name="outer")
    await asyncio.sleep(0.005)
    o.cancel("stop")
    await asyncio.gather(o, return_exceptions=True)
    p = asyncio.create_task(sleeper("plain"), name="plain")
    await asyncio.sleep(0.005)
    p.cancel()
    await asyncio.gather(p, return_exceptions=True)


run(main)
