"""Twin of semantics.sched.sleep_after_block: a sleep that falls due while another task
blocks the loop ends as soon as the loop is free again."""
import asyncio
import time
from _twin import code, run, trace


async def sleeper():
    await asyncio.sleep(0.001)
    trace(f"sleeper woke -> {code()}")


async def main():
    v = await asyncio.get_running_loop().run_in_executor(None, lambda: 1)
    trace(f"job -> {code()} {v}")
    s = asyncio.create_task(sleeper(), name="sleeper")
    await asyncio.sleep(0)
    until = time.monotonic() + 0.020
    while time.monotonic() < until:
        pass
    trace("main: blocked 20 ms")
    await s
    trace(f"await sleeper -> {code()}")


run(main)
