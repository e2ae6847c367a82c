"""Twin of semantics.sched.timer_ready_order: asyncio appends the callbacks of due timers to
the END of the ready queue, in the same iteration (BaseEventLoop._run_once). So a task that
was already ready runs before a due timer's callback; a sleeping task resumes one iteration
after its timer fires (the timer callback sets the future, the future schedules the task); and
a timeout scope's expiry, a timer callback too, lets a yield that was already ready complete
and cancels the task at its next await point."""
import asyncio
import time
from _twin import run, trace, code


def block(ms):
    end = time.monotonic() + ms / 1000.0
    while time.monotonic() < end:
        pass


async def sleeper():
    await asyncio.sleep(0.005)
    trace("sleeper woke")


async def main():
    s = asyncio.create_task(sleeper(), name="sleeper")
    await asyncio.sleep(0)  # the sleeper starts and arms its 5 ms timer
    block(15)               # the timer falls due while the loop is blocked
    for k in range(1, 5):
        await asyncio.sleep(0)
        trace(f"main yield {k}")
    await s
    rc = [None, None]
    try:
        async with asyncio.timeout(0.005):
            block(15)       # the deadline passes while this step blocks
            for k in range(2):
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError as exc:
                    rc[k] = exc
                    raise
    except TimeoutError as exc:
        trace(f"scope -> {code(exc)}")
    trace(f"yield 1 -> {code(rc[0])}, yield 2 -> {code(rc[1])}")


run(main)
