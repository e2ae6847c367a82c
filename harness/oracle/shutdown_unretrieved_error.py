"""Twin of semantics.shutdown.unretrieved_error: a failed task nobody awaited is reported.

asyncio reports it ("Task exception was never retrieved") through the loop's exception
handler when the task object is freed. Nobody holds a reference (the C test drops its own at
once), so that happens as soon as the task has failed; the C runtime reports the detached task
then too.
"""
import asyncio
import errno
from _twin import run, trace, trace_at, fail


async def bg():
    await asyncio.sleep(0.005)
    trace_at("bg fails EIO")
    raise fail(errno.EIO)


def handler(loop, context):
    if context.get("message", "").startswith("Task exception was never retrieved"):
        trace(f"report unretrieved-error {context['future'].get_name()}")
    else:
        loop.default_exception_handler(context)


async def main():
    asyncio.get_running_loop().set_exception_handler(handler)
    asyncio.create_task(bg(), name="bg")  # detached: no reference kept
    await asyncio.sleep(0.020)
    trace_at("main returns")


run(main)
