"""Twin of semantics.sched.sleep_zero_yields: sleep(0) yields to ready tasks and to the loop."""
import asyncio
from _twin import run, trace, trace_at

woke = False


async def stepper(c):
    for i in range(3):
        trace(f"{c}{i}")
        await asyncio.sleep(0)


async def sleeper():
    global woke
    await asyncio.sleep(0.005)
    woke = True
    trace_at("sleeper woke -> ok")


async def spinner():
    spins = 0
    while not woke and spins < 1000000:
        spins += 1
        await asyncio.sleep(0)
    trace(f"spinner saw the sleeper wake: {'yes' if woke else 'no'}")


async def main():
    ts = [asyncio.create_task(stepper(c), name=c) for c in "ab"]
    await asyncio.gather(*ts)
    trace("gather -> ok")
    s = asyncio.create_task(sleeper(), name="sleeper")
    p = asyncio.create_task(spinner(), name="spinner")
    await asyncio.gather(s, p)
    trace("gather -> ok")


run(main)
