"""Twin of semantics.sem.fifo_no_barging: FIFO waiters, no barging, cancelled waiter hands on."""
import asyncio
from _twin import run, trace
from _worker import outcome


async def worker(i, sem):
    try:
        await sem.acquire()
    except asyncio.CancelledError:
        trace(f"w{i} acquire -> ECANCELED")
        raise
    trace(f"w{i} acquired")
    try:
        await asyncio.sleep(0.010)
    finally:
        sem.release()


async def main():
    sem = asyncio.Semaphore(1)
    await sem.acquire()
    t = {i: asyncio.create_task(worker(i, sem), name=f"w{i}") for i in (1, 2)}
    await asyncio.sleep(0.005)
    sem.release()
    trace(f"released; locked={int(sem.locked())}")
    t[3] = asyncio.create_task(worker(3, sem), name="w3")  # newcomer
    await asyncio.gather(t[1], t[2], t[3])
    await sem.acquire()
    for i in (4, 5):
        t[i] = asyncio.create_task(worker(i, sem), name=f"w{i}")
    await asyncio.sleep(0.005)
    sem.release()
    trace(f"released; cancel(w4) -> {int(t[4].cancel())}")
    rc4, _ = await outcome(t[4])
    rc5, _ = await outcome(t[5])
    trace(f"w4 -> {rc4}, w5 -> {rc5}, value={sem._value}")


run(main)
