"""Twin of semantics.sched.set_name: a task's name can be changed after it was spawned."""
import asyncio
from _twin import run, trace


async def child():
    trace(f"child runs as '{asyncio.current_task().get_name()}'")


async def main():
    t = asyncio.create_task(child(), name="first")
    trace(f"spawned as '{t.get_name()}'")
    t.set_name("a-much-longer-name-than-the-inline-buffer-holds")
    await t


run(main)
