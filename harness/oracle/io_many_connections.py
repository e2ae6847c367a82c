"""Twin of semantics.io.many_connections: 1,000 concurrent connections on one loop."""
import asyncio
import resource
from _twin import run, trace
from _streams import BACKLOG, echo_handler, port_of

MANY = 1000


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    st = {"open": 0, "peak": 0, "connected": 0, "ok": 0, "failed": 0}
    go = asyncio.Event()

    async def handler(reader, writer):
        st["open"] += 1
        st["peak"] = max(st["peak"], st["open"])
        await echo_handler(reader, writer)
        st["open"] -= 1

    server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=BACKLOG)
    port = port_of(server)

    async def client(i):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            st["failed"] += 1
            return
        st["connected"] += 1
        await go.wait()
        msg = f"client {i}\n".encode()
        writer.write(msg)
        if await reader.readline() == msg:
            st["ok"] += 1
        writer.close()
        await writer.wait_closed()

    tasks = [asyncio.create_task(client(i)) for i in range(MANY)]
    for _ in range(2000):
        if st["connected"] + st["failed"] >= MANY and st["open"] >= st["connected"]:
            break
        await asyncio.sleep(0.001)
    trace(f"connected: {st['connected']}")
    trace(f"server handlers open at once: {st['peak']}")
    go.set()
    try:
        await asyncio.gather(*tasks)
        trace("gather -> ok")
    except Exception as exc:  # noqa: B902
        trace(f"gather -> {type(exc).__name__}")
    trace(f"correct replies: {st['ok']}")
    server.close()
    await server.wait_closed()


run(main)
