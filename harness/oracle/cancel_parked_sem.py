"""Twin of semantics.cancel.parked_sem: a Semaphore waiter cancelled (and uncancelled) before
the release is skipped: the release leaves value 1 and locked() false, a newcomer acquires at
once (before the cancelled waiter even resumes), the cancelled waiter gets CancelledError; with
a second waiter behind it, the release goes to that one; no unit is lost or duplicated."""
import asyncio
from _twin import run, trace, code


async def waiter(name, sem):
    try:
        await sem.acquire()
    except asyncio.CancelledError as exc:
        trace(f"{name} acquire -> {code(exc)}")
        raise
    trace(f"{name} acquired, value={sem._value}")
    sem.release()
    return 0


async def outcome(name, t):
    try:
        await t
        trace(f"{name} -> ok")
    except asyncio.CancelledError:
        trace(f"{name} -> ECANCELED")


async def main():
    sem = asyncio.Semaphore(0)
    w1 = asyncio.create_task(waiter("w1", sem), name="w1")
    await asyncio.sleep(0.005)
    w1.cancel()
    trace(f"cancel(w1), uncancel -> {w1.uncancel()}")
    sem.release()
    trace(f"released, value={sem._value}, locked={int(sem.locked())}")
    await sem.acquire()  # a newcomer: w1 does not stand in its way
    trace(f"main acquired, value={sem._value}")
    await outcome("w1", w1)
    w2 = asyncio.create_task(waiter("w2", sem), name="w2")
    w3 = asyncio.create_task(waiter("w3", sem), name="w3")
    await asyncio.sleep(0.005)
    w2.cancel()
    sem.release()  # goes to w3, the first waiter not cancelled
    trace(f"cancel(w2), released, value={sem._value}, locked={int(sem.locked())}")
    await outcome("w2", w2)
    await outcome("w3", w3)
    trace(f"end: value={sem._value}")


run(main)
