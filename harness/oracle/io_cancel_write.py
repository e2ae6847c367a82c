"""Twin of semantics.io.cancel_write: a cancelled drain keeps the queue; a cancelled connect
leaves no fd open."""
import asyncio
import socket
from _twin import code, run, trace
from _streams import BACKLOG, open_fds, port_of

TOTAL = 1024 * 1024
SOCKBUF = 32768


async def main():
    go = asyncio.Event()

    async def handler(reader, writer):
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKBUF)
        await go.wait()
        got = 0
        while True:
            data = await reader.read(65536)
            if not data:
                break
            got += len(data)
        writer.write(f"got {got} bytes\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=BACKLOG)
    port = port_of(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKBUF)
    writer.write(b"d" * TOTAL)
    trace("write 1 MiB -> ok")
    t = asyncio.create_task(writer.drain(), name="drainer")
    await asyncio.sleep(0.030)
    before = writer.transport.get_write_buffer_size()
    t.cancel()
    try:
        await t
        trace("drainer -> ok")
    except BaseException as exc:
        trace(f"drainer -> {code(exc)}")
    after = writer.transport.get_write_buffer_size()
    trace(f"queue unchanged by the cancelled drain: {'yes' if before == after and after else 'no'}")
    go.set()
    writer.write_eof()
    trace(f"server: {(await reader.readline()).decode().rstrip()}")
    writer.close()
    await writer.wait_closed()

    fds = open_fds()
    t = asyncio.create_task(asyncio.open_connection("127.0.0.1", port), name="connector")
    await asyncio.sleep(0)
    t.cancel()
    try:
        await t
        trace("cancelled connect -> ok")
    except BaseException as exc:
        trace(f"cancelled connect -> {code(exc)}")
    await asyncio.sleep(0.010)
    trace(f"fds open as before the connect: {'yes' if open_fds() == fds else 'no'}")
    server.close()
    await server.wait_closed()


run(main)
