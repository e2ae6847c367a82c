"""Twin of semantics.thread.threadsafe: another thread reaches the loop with
call_soon_threadsafe (the callback runs on the loop thread, FIFO) and run_coroutine_threadsafe
(the coroutine runs as a task on the loop; the thread blocks on its concurrent future for the
result; cancelling that future cancels the task)."""
import asyncio
import concurrent.futures
import threading
import time
from _twin import run, trace

seen = {}
started = threading.Event()


async def coro():
    trace("coro runs on the loop")
    await asyncio.sleep(0.010)
    return 42


async def sleeper():
    trace("sleeper starts")
    started.set()
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        trace("sleeper cancelled")
        raise


def thread_main(loop, done):
    loop.call_soon_threadsafe(lambda: trace("callback from the thread ran"))
    seen["r"] = asyncio.run_coroutine_threadsafe(coro(), loop).result(5)
    f2 = asyncio.run_coroutine_threadsafe(sleeper(), loop)
    started.wait(5)
    f2.cancel()
    try:
        f2.result(5)
        seen["c"] = "ok"
    except concurrent.futures.CancelledError:
        seen["c"] = "ECANCELED"
    loop.call_soon_threadsafe(done.set)


async def main():
    done = asyncio.Event()
    th = threading.Thread(target=thread_main, args=(asyncio.get_running_loop(), done))
    th.start()
    await done.wait()
    th.join()
    trace(f"thread saw: result -> ok {seen['r']}, cancelled future -> {seen['c']}")


run(main)
