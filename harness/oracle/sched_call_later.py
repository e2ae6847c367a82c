"""Twin of semantics.sched.call_later: loop.call_later / call_at run their callback at the
deadline, in deadline order; when() is the absolute deadline; a cancelled handle never runs."""
import asyncio
from _twin import run, trace, trace_at

fired = []


def cb(name):
    fired.append(name)
    trace_at(f"{name} fired")


async def main():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    ha = loop.call_later(0.020, cb, "A")
    loop.call_later(0.010, cb, "B")
    hc = loop.call_at(t0 + 0.030, cb, "C")
    trace(f"A when-now={round((ha.when() - t0) * 1000)}ms, "
          f"C when-now={round((hc.when() - t0) * 1000)}ms")
    hc.cancel()
    trace(f"C cancelled={int(hc.cancelled())}")
    await asyncio.sleep(0.040)
    trace_at(f"after 40 ms: fired {', '.join(fired)}")


run(main)
