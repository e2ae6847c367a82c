"""Twin of semantics.exec.cancel_running_job: cancelling the awaiter does not stop a started job."""
import asyncio
import threading
from _twin import run, trace
from _worker import outcome


def held_job(started, release, done):
    """Starts, then waits until main releases it (as held_job in C)."""
    started.set()
    release.wait(30)
    done.set()
    return 42


async def main():
    started, release, done = threading.Event(), threading.Event(), threading.Event()
    loop = asyncio.get_running_loop()

    async def waiter():
        try:
            await loop.run_in_executor(None, held_job, started, release, done)
        except asyncio.CancelledError:
            trace("w: run_in_thread -> ECANCELED")
            raise

    w = asyncio.create_task(waiter(), name="w")
    while not started.is_set():
        await asyncio.sleep(0.001)
    trace(f"main: job started; cancel(w) -> {int(w.cancel())}")
    rc, _ = await outcome(w)
    trace(f"main: await w -> {rc}, job finished: {'yes' if done.is_set() else 'no'}")
    release.set()
    while not done.is_set():
        await asyncio.sleep(0.001)
    trace("job finished later: yes")


run(main)
