"""Twin of semantics.wait.as_completed: asyncio.as_completed yields the tasks in the order they
finish (a failure comes out as its error); with a timeout, the calls left once it passed raise
TimeoutError."""
import asyncio
import errno
from _twin import run, trace_at, code, fail


async def job(ms, value, err=0):
    await asyncio.sleep(ms / 1000.0)
    if err:
        raise fail(err)
    return value


async def main():
    ts = [asyncio.create_task(job(90, 3), name="x"), asyncio.create_task(job(30, 1), name="y"),
          asyncio.create_task(job(60, 2, errno.EIO), name="z")]
    for aw in asyncio.as_completed(ts):
        try:
            trace_at(f"next -> ok {await aw}")
        except OSError as exc:
            trace_at(f"next -> {code(exc)}")
    ts = [asyncio.create_task(job(10, 1), name="p"), asyncio.create_task(job(200, 2), name="q")]
    for aw in asyncio.as_completed(ts, timeout=0.060):
        try:
            trace_at(f"next -> ok {await aw}")
        except TimeoutError as exc:
            trace_at(f"next -> {code(exc)}")
    await ts[1]


run(main)
