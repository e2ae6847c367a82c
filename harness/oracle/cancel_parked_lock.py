"""Twin of semantics.cancel.parked_lock: a Lock waiter cancelled (and uncancelled) before the
release never gets the lock: after the release the lock reads unlocked and a newcomer takes it
at once; the cancelled waiter gets CancelledError; one behind it is woken only once the
cancelled one has resumed (Lock._wake_up_first looks at the first waiter only)."""
import asyncio
from _twin import run, trace, code

holders = 0


async def waiter(name, lock):
    global holders
    try:
        await lock.acquire()
    except asyncio.CancelledError as exc:
        trace(f"{name} acquire -> {code(exc)}")
        raise
    holders += 1
    trace(f"{name} acquired, holders={holders}")
    await asyncio.sleep(0)
    holders -= 1
    lock.release()
    return 0


async def main():
    global holders
    lock = asyncio.Lock()
    await lock.acquire()
    holders = 1
    w1 = asyncio.create_task(waiter("w1", lock), name="w1")
    await asyncio.sleep(0.005)
    w1.cancel()
    trace(f"cancel(w1), uncancel -> {w1.uncancel()}")
    holders -= 1
    lock.release()
    trace(f"released, locked={int(lock.locked())}")
    await lock.acquire()  # a newcomer: the cancelled waiter does not stand in its way
    holders += 1
    trace(f"main acquired at once, holders={holders}")
    try:
        await w1
    except asyncio.CancelledError:
        trace("w1 -> ECANCELED")
    # Two waiters, the first cancelled: the second is woken after the first has resumed.
    w2 = asyncio.create_task(waiter("w2", lock), name="w2")
    w3 = asyncio.create_task(waiter("w3", lock), name="w3")
    await asyncio.sleep(0.005)
    w2.cancel()
    holders -= 1
    lock.release()
    trace(f"cancel(w2), released, locked={int(lock.locked())}")
    await asyncio.gather(w2, w3, return_exceptions=True)
    trace(f"end: locked={int(lock.locked())}, holders={holders}")


run(main)
