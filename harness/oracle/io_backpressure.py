"""Twin of semantics.io.backpressure: a slow reader makes drain wait; the queue stays bounded."""
import asyncio
import socket
from _twin import code, run, trace
from _streams import BACKLOG, port_of

CHUNK = 16 * 1024
TOTAL = 1024 * 1024
SOCKBUF = 32768
HIGH, LOW = 64 * 1024, 16 * 1024  # asyncio's default write buffer limits


async def slow_reader(reader, writer):
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKBUF)
    got = bad = 0
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        bad += sum(1 for i, b in enumerate(data) if b != (got + i) % 251)
        got += len(data)
        await asyncio.sleep(0.001)
    writer.write(f"got {got} bytes, {'corrupted' if bad else 'in order'}\n".encode())
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(slow_reader, "127.0.0.1", 0, backlog=BACKLOG)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKBUF)
    t = writer.transport
    max_q = waits = 0
    low_ok = True
    rc = "ok"
    try:
        for off in range(0, TOTAL, CHUNK):
            writer.write(bytes((off + i) % 251 for i in range(CHUNK)))
            q = t.get_write_buffer_size()
            max_q = max(max_q, q)
            will_wait = q > HIGH
            await writer.drain()
            if will_wait:
                waits += 1
                if t.get_write_buffer_size() > LOW:
                    low_ok = False
    except Exception as exc:  # noqa: B902
        rc = code(exc)
    trace(f"write+drain -> {rc}")
    trace(f"drain waited at least once: {'yes' if waits else 'no'}")
    trace(f"queue never above high-water + one write: {'yes' if max_q <= HIGH + CHUNK else 'no'}")
    trace(f"a waiting drain returned at or below low-water: {'yes' if low_ok else 'no'}")
    writer.write_eof()
    line = await reader.readline()
    trace(f"server: {line.decode().rstrip()}")
    writer.close()
    server.close()
    await server.wait_closed()


run(main)
