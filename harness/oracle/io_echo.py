"""Twin of semantics.io.echo: an echo round trip over TCP/IPv4, TCP/IPv6 and a Unix socket."""
import asyncio
import os
import tempfile
from _twin import code, run, trace
from _streams import BACKLOG, echo_handler, have_ipv6, port_of


async def echo_one(fam, server, connect):
    try:
        reader, writer = await connect
    except OSError as exc:
        trace(f"{fam}: connect -> {code(exc)}")
    else:
        msg = f"hello {fam}\n".encode()
        writer.write(msg)
        await writer.drain()
        line = await reader.readline()
        trace(f"{fam}: echo -> {line.decode().rstrip()}")
        trace(f"{fam}: at_eof before EOF -> {'yes' if reader.at_eof() else 'no'}")
        writer.write_eof()
        data = await reader.read(64)
        trace(f"{fam}: read after write_eof -> {len(data)} bytes, "
              f"at_eof {'yes' if reader.at_eof() else 'no'}")
        writer.close()
        try:
            await writer.wait_closed()
            trace(f"{fam}: wait_closed -> ok")
        except OSError as exc:
            trace(f"{fam}: wait_closed -> {code(exc)}")
    server.close()
    await server.wait_closed()
    trace(f"{fam}: server wait_closed -> ok")


async def main():
    server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, backlog=BACKLOG)
    await echo_one("tcp4", server, asyncio.open_connection("127.0.0.1", port_of(server)))
    if have_ipv6():
        server = await asyncio.start_server(echo_handler, "::1", 0, backlog=BACKLOG)
        await echo_one("tcp6", server, asyncio.open_connection("::1", port_of(server)))
    else:
        trace("tcp6: no IPv6 loopback on this host")
    with tempfile.TemporaryDirectory(prefix="lc-io-") as d:
        path = os.path.join(d, "echo.sock")
        server = await asyncio.start_unix_server(echo_handler, path, backlog=BACKLOG)
        await echo_one("unix", server, asyncio.open_unix_connection(path))


run(main)
