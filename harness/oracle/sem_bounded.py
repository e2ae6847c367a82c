"""Twin of semantics.sem.bounded: BoundedSemaphore refuses over-release, Semaphore grows."""
import asyncio
from _twin import run, trace


async def main():
    b, p = asyncio.BoundedSemaphore(2), asyncio.Semaphore(2)
    await b.acquire()
    b.release()
    try:
        b.release()
        refused = "no"
    except ValueError:
        refused = "yes"
    trace(f"bounded: release -> ok, over-release refused: {refused}, value={b._value}")
    p.release()
    trace(f"plain: over-release -> ok, value={p._value}")


run(main)
