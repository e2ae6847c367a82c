"""Twin of semantics.cond.notify: asyncio.Condition. wait releases the lock and re-acquires it
before returning; notify(n) wakes the first n waiters, notify_all every one; notify and wait
without the lock are refused (RuntimeError, -EPERM in C); wait_for re-checks its predicate
after every wake-up; a waiter cancelled while waiting still re-acquires the lock before it gets
CancelledError."""
import asyncio
from _twin import run, trace

counter = 0


async def waiter(name, cond):
    async with cond:
        await cond.wait()
        trace(f"{name} woke, locked={int(cond.locked())}")


async def pred_waiter(cond):
    async with cond:
        await cond.wait_for(lambda: counter >= 2)
        trace(f"wait_for -> ok, counter={counter}")


async def cancelled_waiter(cond):
    await cond.acquire()
    try:
        await cond.wait()
        rc = "ok"
    except asyncio.CancelledError:
        rc = "ECANCELED"
    trace(f"w4 wait -> {rc}, locked={int(cond.locked())}")
    cond.release()


async def main():
    global counter
    cond = asyncio.Condition()
    for call in (cond.wait(), ):
        try:
            await call
        except RuntimeError:
            trace("wait without the lock -> EPERM")
    try:
        cond.notify()
    except RuntimeError:
        trace("notify without the lock -> EPERM")
    ws = [asyncio.create_task(waiter(f"w{i}", cond), name=f"w{i}") for i in (1, 2, 3)]
    await asyncio.sleep(0.005)
    async with cond:
        cond.notify(1)
        trace("notify(1)")
    await asyncio.sleep(0.005)
    async with cond:
        cond.notify_all()
        trace("notify_all")
    await asyncio.gather(*ws)
    p = asyncio.create_task(pred_waiter(cond), name="pred")
    for _ in range(2):
        await asyncio.sleep(0.005)
        async with cond:
            counter += 1
            cond.notify_all()
            trace(f"counter={counter}, notify_all")
    await p
    w4 = asyncio.create_task(cancelled_waiter(cond), name="w4")
    await asyncio.sleep(0.005)
    await cond.acquire()
    w4.cancel()
    trace("cancel(w4) while main holds the lock")
    await asyncio.sleep(0.005)
    trace(f"w4 done: {int(w4.done())}")
    cond.release()
    await w4


run(main)
