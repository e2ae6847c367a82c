"""Twin of semantics.exec.process: a process pool runs the function in another process."""
import asyncio
import concurrent.futures
import multiprocessing
import os
from _twin import run, trace


def sum_squares(n):
    return sum(i * i for i in range(n))


def pid():
    return os.getpid()


async def main():
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("fork")  # like the C pool: forked workers
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        v = await loop.run_in_executor(pool, sum_squares, 1000)
        trace(f"run_in_process(sum of squares below 1000) -> ok {v}")
        p = await loop.run_in_executor(pool, pid)
        trace(f"ran in another process: {'yes' if p != os.getpid() and p > 0 else 'no'}")


if __name__ == "__main__":
    run(main)
