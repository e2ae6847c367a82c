"""Twin of semantics.lock.fifo: FIFO lock waiters, a cancelled waiter is skipped."""
import asyncio
from _twin import run, trace


async def worker(i, lock):
    try:
        await lock.acquire()
    except asyncio.CancelledError:
        trace(f"w{i} acquire -> ECANCELED")
        raise
    trace(f"w{i} has the lock")
    await asyncio.sleep(0)
    lock.release()


async def main():
    lock = asyncio.Lock()
    await lock.acquire()
    t = {i: asyncio.create_task(worker(i, lock), name=f"w{i}") for i in (1, 2, 3)}
    await asyncio.sleep(0.005)
    trace(f"cancel(w2) -> {int(t[2].cancel())}")
    lock.release()
    trace("main released")
    await asyncio.gather(t[1], t[2], t[3], return_exceptions=True)
    try:
        lock.release()
        refused = "no"
    except RuntimeError:
        refused = "yes"
    trace(f"locked={int(lock.locked())}, release unlocked refused: {refused}")


run(main)
