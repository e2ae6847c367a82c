"""Twin of semantics.cancel.parked_uncancel: a task parked at an await point (sleep, Event,
await of a task, gather, run_in_executor) that is cancelled and then uncancelled before it runs
still gets CancelledError there: cancel() already cancelled the future it waits on."""
import asyncio
import time
from _twin import run, trace, code


async def child():
    await asyncio.sleep(1.0)


def job():
    time.sleep(0.030)
    return 1


async def waiter(kind, ev):
    try:
        if kind == "sleep":
            await asyncio.sleep(1.0)
        elif kind == "event":
            await ev.wait()
        elif kind == "await":
            await asyncio.create_task(child(), name="child")
        elif kind == "gather":
            await asyncio.gather(asyncio.create_task(child(), name="child"))
        else:
            await asyncio.get_running_loop().run_in_executor(None, job)
        rc = None
    except BaseException as exc:  # noqa: B902 - traced
        rc = exc
    me = asyncio.current_task()
    # No timing token: the C test asserts the promptness itself (within a tolerance), and
    # tokens here would add up the stalls of five rounds.
    trace(f"{kind} -> {code(rc)}, cancelling={me.cancelling()}")
    return 0


async def main():
    for kind in ("sleep", "event", "await", "gather", "thread"):
        ev = asyncio.Event()
        t = asyncio.create_task(waiter(kind, ev), name=kind)
        await asyncio.sleep(0.010)
        t.cancel()
        trace(f"{kind}: cancel, uncancel -> {t.uncancel()}")
        ev.set()  # too late: the waiter is cancelled already
        await t


run(main)
