"""Twin of semantics.debug.threshold: slow_callback_duration = 30 ms; a late timer shows the lag."""
import asyncio
from _twin import run, trace, trace_at
from _block import install_reports, cpu


async def timer():
    await asyncio.sleep(0.010)
    trace_at("timer (10 ms) woke")


async def busy(ms):
    trace(f"{asyncio.current_task().get_name()} runs {ms} ms")
    cpu(ms / 1000.0)


async def main():
    install_reports()
    asyncio.get_running_loop().slow_callback_duration = 0.030
    ts = [asyncio.create_task(timer(), name="timer"),
          asyncio.create_task(busy(50), name="a"),
          asyncio.create_task(busy(5), name="b")]
    await asyncio.gather(*ts)


run(main, debug=True)
