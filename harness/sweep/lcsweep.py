"""lcsweep.py: the sweep's workloads in CPython asyncio (and asyncio on uvloop).

Run by `loopconf sweep` inside a cell (harness/sweep/lcsweep_cell.c), which provides the io
peer (LCSWEEP_PEER, a unix socket path) and the memory cgroup (LCSWEEP_CGROUP). The work is
the same as the C units' (parameters copied from lcsweep.h). Prints one JSON object on stdout.
`--versions` prints the Python and uvloop versions instead.
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time

SLEEP_S = 0.050
IO_ROUNDS = 4
IO_BYTES = 64
CPU_TOTAL = 4000000
SWITCH_ROUNDS = 20000
BLOCK_S = 0.200
TICK_S = 0.010
TICKS = 40
BLOCK_AT_S = 0.100
MASK = (1 << 64) - 1


def spin(steps, seed):
    x = seed | 1
    for _ in range(steps):
        x ^= x >> 12
        x = (x ^ (x << 25)) & MASK
        x ^= x >> 27
        x = (x * 0x2545F4914F6CDD1D) & MASK
    return x


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("MemAvailable", "KernelStack", "PageTables"):
                out[k] = int(v.split()[0]) * 1024
    return out


def cg_file(name):
    d = os.environ.get("LCSWEEP_CGROUP")
    return os.path.join(d, name) if d else None


def cg_reset():
    v2 = os.environ.get("LCSWEEP_CGROUP_V2") == "1"
    p = cg_file("memory.peak" if v2 else "memory.max_usage_in_bytes")
    if not p:
        return None
    try:
        with open(p, "w") as f:
            f.write("reset" if v2 else "0")
        with open(cg_file("memory.current" if v2 else "memory.usage_in_bytes")) as f:
            return int(f.read())
    except OSError:
        return None


def cg_peak():
    v2 = os.environ.get("LCSWEEP_CGROUP_V2") == "1"
    p = cg_file("memory.peak" if v2 else "memory.max_usage_in_bytes")
    try:
        with open(p) as f:
            return int(f.read())
    except (OSError, TypeError):
        return None


class Cell:
    def __init__(self):
        self.t_created = None
        self.mem = None
        self.lag_max = 0.0
        self.started = 0

    def created(self):
        self.t_created = time.monotonic()
        self.mem = meminfo()


async def unit_sleep(cell, i):
    await asyncio.sleep(SLEEP_S)


async def unit_io(cell, i):
    peer = os.environ["LCSWEEP_PEER"]
    while True:
        try:
            reader, writer = await asyncio.open_unix_connection(peer)
            break
        except BlockingIOError:  # the peer's backlog is full
            await asyncio.sleep(0.001)
    try:
        for k in range(IO_ROUNDS):
            msg = bytes([ord("a") + (i + k) % 26]) * IO_BYTES
            writer.write(msg)
            await writer.drain()
            back = await reader.readexactly(IO_BYTES)
            if back != msg:
                raise RuntimeError("echo mismatch")
    finally:
        writer.close()


async def unit_cpu(cell, i, steps):
    spin(steps, i)


async def unit_block(cell, i):
    if i == 0:
        await asyncio.sleep(BLOCK_AT_S)
        time.sleep(BLOCK_S)  # the blocking call
        return
    nxt = time.monotonic()
    for _ in range(TICKS):
        nxt += TICK_S
        await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        lag = time.monotonic() - nxt
        if lag > cell.lag_max:
            cell.lag_max = lag


async def unit_spawn(cell, i, gate):
    cell.started += 1
    await gate.wait()


async def yielder():
    for _ in range(SWITCH_ROUNDS):
        await asyncio.sleep(0)


async def run(workload, n, cell, cpu_total=CPU_TOTAL):
    t0 = time.monotonic()
    if workload == "switch":
        ts = [asyncio.create_task(yielder()), asyncio.create_task(yielder())]
        cell.created()
        await asyncio.gather(*ts)
        return t0, time.monotonic()
    gate = asyncio.Event()
    share, rest = divmod(cpu_total, n)
    ts = []
    for i in range(n):
        if workload == "sleep":
            c = unit_sleep(cell, i)
        elif workload == "io":
            c = unit_io(cell, i)
        elif workload == "cpu":
            c = unit_cpu(cell, i, share + (1 if i < rest else 0))
        elif workload == "block":
            c = unit_block(cell, i)
        else:
            c = unit_spawn(cell, i, gate)
        ts.append(asyncio.create_task(c))
    if workload == "spawn":  # a task's frame exists once it first runs
        while cell.started < n:
            await asyncio.sleep(0)
    cell.created()
    gate.set()
    await asyncio.gather(*ts)
    del ts
    return t0, time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload")
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--versions", action="store_true")
    a = ap.parse_args()
    if a.versions:
        v = {"python": sys.version.split()[0], "python_executable": sys.executable}
        try:
            import uvloop
            v["uvloop"] = uvloop.__version__
        except ImportError as e:
            v["uvloop_absent"] = str(e)
        print(json.dumps(v))
        return 0
    if a.loop == "uvloop":
        import uvloop
        runner = uvloop.run if hasattr(uvloop, "run") else None
        if runner is None:
            uvloop.install()
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)

    def go(coro):
        if a.loop == "uvloop" and runner is not None:
            return runner(coro)
        return asyncio.run(coro)

    if a.workload != "block":  # the same warm-up as the C cells: small N, 1/100 of the cpu work
        go(run(a.workload, min(a.n, 16), Cell(), CPU_TOTAL // 100))
    cell = Cell()
    cg0 = cg_reset()
    m0 = meminfo()
    r0s = resource.getrusage(resource.RUSAGE_SELF)
    t0, t1 = go(run(a.workload, a.n, cell))
    r1s = resource.getrusage(resource.RUSAGE_SELF)
    peak = cg_peak()
    out = {
        "ok": True,
        "wall_s": t1 - t0,
        "create_s": cell.t_created - t0,
        "rest_s": t1 - cell.t_created,
        "user_s": r1s.ru_utime - r0s.ru_utime,
        "sys_s": r1s.ru_stime - r0s.ru_stime,
        "nvcsw": r1s.ru_nvcsw - r0s.ru_nvcsw,
        "nivcsw": r1s.ru_nivcsw - r0s.ru_nivcsw,
        "maxrss_self_kb": r1s.ru_maxrss,
        "mem_avail_drop_b": m0["MemAvailable"] - cell.mem["MemAvailable"],
        "kernel_stack_b": cell.mem["KernelStack"] - m0["KernelStack"],
        "page_tables_b": cell.mem["PageTables"] - m0["PageTables"],
    }
    if cg0 is not None and peak is not None:
        out["cgroup_peak_b"] = peak - cg0
    if a.workload == "block":
        out["lag_max_s"] = cell.lag_max
    if a.workload == "switch":
        out["switch_s"] = (t1 - t0) / (2 * SWITCH_ROUNDS)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
