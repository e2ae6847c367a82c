"""Twin of semantics.cancel.cleanup_runs: cancel delivered at the await, cleanup runs and awaits."""
import asyncio
from _twin import run, trace, trace_at
from _worker import worker, outcome


async def main():
    t = asyncio.create_task(worker("t", 1000, cleanup_ms=10), name="t")
    await asyncio.sleep(0.010)
    trace_at(f"cancel(t) -> {int(t.cancel())}")
    rc, _ = await outcome(t)
    trace_at(f"await t -> {rc}, cancelled={int(t.cancelled())}")
    trace(f"cancel(t) again -> {int(t.cancel())}")


run(main)
