"""Twin of semantics.io.server_close: a closed server refuses new connections, serves open ones."""
import asyncio
from _twin import code, run, trace
from _streams import BACKLOG, echo_handler, port_of


async def main():
    server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, backlog=BACKLOG)
    port = port_of(server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"one\n")
    trace(f"a: echo -> {(await reader.readline()).decode().rstrip()}")
    server.close()
    trace("server closed")
    # 3.11's wait_closed returns at once here; 3.12 waits for the handlers (the C rule).
    w = asyncio.create_task(server.wait_closed(), name="waiter")
    try:
        _, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.close()
        trace("b: connect after close -> ok")
    except OSError as exc:
        trace(f"b: connect after close -> {code(exc)}")
    writer.write(b"two\n")
    trace(f"a: echo after close -> {(await reader.readline()).decode().rstrip()}")
    await asyncio.sleep(0.020)
    writer.write_eof()
    trace(f"a: read after write_eof -> {len(await reader.read(32))} bytes")
    writer.close()
    try:
        await w
        trace("server wait_closed -> ok")
    except BaseException as exc:
        trace(f"server wait_closed -> {code(exc)}")


run(main)
