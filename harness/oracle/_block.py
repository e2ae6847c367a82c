"""_block.py: the blocking-call scenarios' body (block_main in C), with asyncio's debug mode."""
import asyncio
import logging
import re
import time
from _twin import trace, trace_at

BLOCK_MS = 150
TICK_MS = 5


class SlowStepReports(logging.Handler):
    """Turns asyncio's debug warning "Executing <Task ... name='x' ...> took N seconds" into the
    trace line "report slow-step x", as the C runtime's LC_REPORT_SLOW_STEP names the task."""

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("Executing "):
            m = re.search(r"name='([^']*)'", msg)
            trace(f"report slow-step {m.group(1) if m else 'call_soon callback'}")


def install_reports():
    log = logging.getLogger("asyncio")
    log.addHandler(SlowStepReports())
    log.setLevel(logging.WARNING)
    log.propagate = False


def cpu(seconds):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


def sleep_job(done=None):
    time.sleep(BLOCK_MS / 1000.0)
    if done is not None:
        done.set()
    return 42


async def block_main(kind):
    """kind: "nanosleep", "cpu" or "thread"."""
    install_reports()
    st = {"stop": False, "max_gap": 0.0, "block": 0.0, "in_job": False, "ticks_in_job": 0}

    async def ticker():
        last = time.monotonic()
        while not st["stop"]:
            await asyncio.sleep(TICK_MS / 1000.0)
            now = time.monotonic()
            st["max_gap"] = max(st["max_gap"], now - last)
            last = now
            if st["in_job"]:
                st["ticks_in_job"] += 1

    async def culprit():
        t0 = time.monotonic()
        trace_at(f"culprit starts {BLOCK_MS} ms of work")
        if kind == "nanosleep":
            time.sleep(BLOCK_MS / 1000.0)
        elif kind == "cpu":
            cpu(BLOCK_MS / 1000.0)
        else:
            st["in_job"] = True
            v = await asyncio.get_running_loop().run_in_executor(None, sleep_job)
            st["in_job"] = False
            trace_at(f"culprit: run_in_thread -> ok {v}")
        st["block"] = time.monotonic() - t0
        trace_at("culprit done")

    t = asyncio.create_task(ticker(), name="ticker")
    await asyncio.sleep(0.020)
    await asyncio.create_task(culprit(), name="culprit")
    await asyncio.sleep(0.020)
    st["stop"] = True
    await t
    if kind == "thread":
        # As the C scenario: ticks while the job ran, and no gap as long as the job.
        kept = st["max_gap"] < BLOCK_MS / 1000.0 and st["ticks_in_job"] >= BLOCK_MS // TICK_MS // 4
        trace(f"ticker kept ticking: {'yes' if kept else 'no'}")
    else:
        frozen = st["max_gap"] >= st["block"]
        trace(f"ticker frozen for the whole block: {'yes' if frozen else 'no'}")
