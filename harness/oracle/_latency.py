"""_latency.py: the IO latency scenarios' body (lat_main in semantics_io.c), in debug mode."""
import asyncio
import time
from _twin import trace
from _streams import BACKLOG, port_of
from _block import cpu, install_reports

CLIENTS = 8
BLOCK_MS = 150


def job():
    time.sleep(BLOCK_MS / 1000.0)
    return 42


async def lat_main(kind):
    """kind: "nanosleep", "cpu" or "thread"."""
    install_reports()
    st = {"stop": False, "served_once": 0, "block": 0.0, "accepted": 0, "in_job": False}
    max_rtt = [0.0] * CLIENTS
    rounds = [0] * CLIENTS
    in_job_rounds = [0] * CLIENTS

    async def handler(reader, writer):
        st["accepted"] += 1  # the C server names its connection tasks echo-1, echo-2, ...
        asyncio.current_task().set_name(f"echo-{st['accepted']}")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if line == b"block\n":
                    t0 = time.monotonic()
                    if kind == "nanosleep":
                        time.sleep(BLOCK_MS / 1000.0)
                    elif kind == "cpu":
                        cpu(BLOCK_MS / 1000.0)
                    else:
                        st["in_job"] = True
                        await asyncio.get_running_loop().run_in_executor(None, job)
                        st["in_job"] = False
                    st["block"] = time.monotonic() - t0
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=BACKLOG)
    port = port_of(server)

    async def client(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not st["stop"]:
            t0 = time.monotonic()
            began_in_job = st["in_job"]
            writer.write(b"ping\n")
            await reader.readline()
            max_rtt[i] = max(max_rtt[i], time.monotonic() - t0)
            if began_in_job and st["in_job"]:
                in_job_rounds[i] += 1
            if rounds[i] == 0:
                st["served_once"] += 1
            rounds[i] += 1
        writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(CLIENTS)]
    for _ in range(5000):
        if st["served_once"] >= CLIENTS:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.020)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"block\n")
    trace(f"culprit: echo -> {(await reader.readline()).decode().rstrip()}")
    writer.close()
    await asyncio.sleep(0.020)
    st["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if kind == "thread":
        # As the C scenario: round trips while the job ran, none as long as the job.
        low = all(r < BLOCK_MS / 1000.0 for r in max_rtt) and all(n > 0 for n in in_job_rounds)
        trace(f"every other connection's latency stayed below the bound: {'yes' if low else 'no'}")
    else:
        rose = all(r >= st["block"] for r in max_rtt)
        trace(f"every other connection's latency rose by the block: {'yes' if rose else 'no'}")
    server.close()
    await server.wait_closed()
