"""Twin of semantics.shutdown.cleanup_spawn: tasks that asyncio.run lets start during its end.

- A task main spawns just before it returns still gets its first step: run_until_complete
  stops the loop through a done callback (call_soon), so one more iteration runs; the task is
  then cancelled with the other leftovers.
- asyncio.run takes its list of tasks to cancel once; a task spawned by a leftover's cleanup is
  not on it and gets to start while the loop finishes the shutdown.

Deliberate difference, not traced: asyncio then closes the loop with that late task still
pending ("Task was destroyed but it is pending!"); the runtime cancels it once it has started
and runs its cleanup too (SHUTDOWN-CLEANUP-SPAWN)."""
import asyncio
from _twin import run, trace

keep = []


async def late():
    trace("late start")
    await asyncio.sleep(0.050)
    trace("late done")  # never reached, on either side


async def waiter(name, spawn_late):
    trace(f"{name} start")
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        if spawn_late:  # asyncio cancels the leftovers in no defined order: trace only one
            trace(f"{name} cancelled")
            keep.append(asyncio.create_task(late(), name="late"))
        raise


async def main():
    keep.append(asyncio.create_task(waiter("leftover", True), name="leftover"))
    await asyncio.sleep(0.005)
    keep.append(asyncio.create_task(waiter("last", False), name="last"))
    trace("main returns")


if __name__ == "__main__":
    import logging
    logging.disable(logging.CRITICAL)  # the "destroyed but pending" report is not traced
    run(main)
