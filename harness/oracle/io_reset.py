"""Twin of semantics.io.reset: a peer that aborts (RST) after "abc": "abc", then ECONNRESET."""
import asyncio
import socket
import struct
from _twin import code, run, trace
from _streams import BACKLOG, port_of


async def abort_handler(reader, writer):
    writer.write(b"abc")
    await writer.drain()
    await asyncio.sleep(0.030)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
    writer.close()


async def main():
    server = await asyncio.start_server(abort_handler, "127.0.0.1", 0, backlog=BACKLOG)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    trace(f"read -> {(await reader.read(16)).decode()}")
    for _ in range(2):
        try:
            data = await reader.read(16)
            trace(f"read -> {data.decode() if data else 'ok'}")
        except OSError as exc:
            trace(f"read -> {code(exc)}")
    writer.close()
    server.close()
    await server.wait_closed()


run(main)
