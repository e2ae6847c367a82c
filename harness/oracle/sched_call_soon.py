"""Twin of semantics.sched.call_soon: FIFO callbacks, next-iteration rescheduling, no starvation."""
import asyncio
from _twin import run, trace, trace_at

state = {"stop": False, "spins": 0}


def cb3():
    trace("cb3")


def cb1():
    trace("cb1 (schedules cb3)")
    asyncio.get_running_loop().call_soon(cb3)


def cb2():
    trace("cb2")


def spin():
    if state["stop"]:
        return
    state["spins"] += 1
    asyncio.get_running_loop().call_soon(spin)


async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(cb1)
    loop.call_soon(cb2)
    await asyncio.sleep(0)
    trace("main resumed")
    await asyncio.sleep(0)
    trace("main resumed again")
    loop.call_soon(spin)
    trace_at("main sleeps 10ms while a callback reschedules itself")
    await asyncio.sleep(0.010)
    state["stop"] = True
    trace_at(f"main woke -> ok, spinner {'ran' if state['spins'] > 0 else 'never ran'}")


run(main)
