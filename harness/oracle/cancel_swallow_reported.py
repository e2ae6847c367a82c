"""Twin of semantics.cancel.swallow_reported: a swallowed cancel leaves cancelling() > 0.

The C runtime also reports the task (LC_REPORT_SWALLOWED_CANCEL); asyncio has no such report,
so the trace holds only what asyncio shows: the task finished normally with requests pending.
"""
import asyncio
from _twin import run, trace
from _worker import worker, outcome


async def main():
    t = asyncio.create_task(worker("t", 1000, swallow=True, swallow_value=3), name="t")
    await asyncio.sleep(0.005)
    a, b = t.cancel(), t.cancel()
    trace(f"cancel(t) twice -> {int(a)} {int(b)}, cancelling(t)={t.cancelling()}")
    rc, v = await outcome(t)
    trace(f"await t -> {rc} {v}, cancelled={int(t.cancelled())}, cancelling={t.cancelling()}")


run(main)
