"""Twin of semantics.shutdown.cancels_pending: asyncio.run cancels leftovers and runs cleanup.

The C runtime also reports the task (LC_REPORT_CANCELLED_AT_SHUTDOWN); asyncio does not, so
the trace holds only the cancellation and its cleanup.
"""
import asyncio
from _twin import run, trace
from _worker import worker

keep = []


async def main():
    keep.append(asyncio.create_task(worker("bg", 5000, cleanup_ms=10), name="bg"))
    await asyncio.sleep(0.005)
    trace("main returns 1")
    return 1


run(main)
