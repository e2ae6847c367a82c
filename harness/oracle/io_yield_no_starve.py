"""Twin of semantics.io.yield_no_starve: bytes reach their reader while another task spins on
sleep(0)."""
import asyncio
import socket
from _twin import run, trace

GIVE_UP = 100000


async def main():
    a, b = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=a)
    state = {"done": False, "yields": 0}

    async def read():
        data = await reader.readexactly(4)
        state["done"] = True
        trace(f"reader -> {data.decode()}")

    async def spin():
        while not state["done"] and state["yields"] < GIVE_UP:
            state["yields"] += 1
            await asyncio.sleep(0)
        trace("spinner stopped: " + ("the reader has its bytes" if state["done"] else "gave up"))

    r = asyncio.create_task(read(), name="reader")
    s = asyncio.create_task(spin(), name="spinner")
    await asyncio.sleep(0)
    b.send(b"ping")
    trace("main wrote ping")
    await r
    await s
    writer.close()
    await writer.wait_closed()
    b.close()


run(main)
