"""Twin of semantics.io.peer_closed: EOF from a closed peer, then EPIPE/ECONNRESET on writes."""
import asyncio
from _twin import code, run, trace
from _streams import BACKLOG, lost, port_of


async def close_at_once(reader, writer):
    writer.close()


async def main():
    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0, backlog=BACKLOG)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    data = await reader.read(16)
    trace(f"read -> {len(data)} bytes, at_eof {'yes' if reader.at_eof() else 'no'}")
    err = None
    for _ in range(200):
        try:
            writer.write(b"data\n")
            await writer.drain()
        except Exception as exc:  # noqa: B902 - whatever asyncio raises is the outcome
            err = exc
            break
        await asyncio.sleep(0.001)
    trace(f"writing to the closed peer fails with EPIPE or ECONNRESET: "
          f"{'yes' if lost(err) else code(err)}")
    try:
        await writer.drain()
        again = None
    except Exception as exc:  # noqa: B902
        again = exc
    trace(f"drain again fails the same way: {'yes' if lost(again) else code(again)}")
    writer.close()
    server.close()
    await server.wait_closed()


run(main)
