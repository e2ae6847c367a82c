"""Twin of semantics.sem.cancel_queued: a waiter cancelled while queued leaves the queue."""
import asyncio
from _twin import code, run, trace


async def worker(i, sem):
    try:
        await sem.acquire()
    except asyncio.CancelledError:
        trace(f"w{i} acquire -> ECANCELED")
        raise
    trace(f"w{i} acquire -> ok")
    await asyncio.sleep(0)
    trace(f"w{i} release")
    sem.release()


async def main():
    sem = asyncio.Semaphore(1)
    await sem.acquire()
    t = {i: asyncio.create_task(worker(i, sem), name=f"w{i}") for i in (1, 2, 3)}
    await asyncio.sleep(0.005)
    trace(f"cancel(w2) -> {int(t[2].cancel())}")
    await asyncio.sleep(0.005)
    trace(f"main release, value {sem._value}")
    sem.release()
    res = await asyncio.gather(t[1], t[2], t[3], return_exceptions=True)
    codes = ", ".join(code(r) if isinstance(r, BaseException) else "ok" for r in res)
    trace(f"gather -> [{codes}], value {sem._value}, locked {int(sem.locked())}")


run(main)
