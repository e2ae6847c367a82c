"""_streams.py: shared pieces of the IO scenarios' twins (semantics_io.c), over asyncio streams."""
import asyncio
import errno
import os
import socket

BACKLOG = socket.SOMAXCONN  # the C server listens with SOMAXCONN (asyncio's default is 100)


async def echo_handler(reader, writer):
    """Each line back until EOF, then close (the C runtime closes when the handler returns)."""
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def have_ipv6():
    """The same question the C test asks: can a TCP socket bind to ::1?"""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def port_of(server):
    return server.sockets[0].getsockname()[1]


def lost(exc):
    """Does exc mean the peer is gone (EPIPE or ECONNRESET)? asyncio's drain may raise its own
    ConnectionResetError('Connection lost'), which carries no errno."""
    return isinstance(exc, (BrokenPipeError, ConnectionResetError)) or (
        isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.ECONNRESET))


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def script_handler(send, after_go=None):
    """The C script server: send `send`, then after the client's "go\\n" send `after_go`."""
    async def handler(reader, writer):
        try:
            writer.write(send)
            await writer.drain()
            if after_go is not None:
                line = await reader.readline()
                if line:
                    writer.write(after_go)
                    await writer.drain()
        finally:
            writer.close()
    return handler


async def script_connect(send, after_go=None, limit=2 ** 16):
    server = await asyncio.start_server(script_handler(send, after_go), "127.0.0.1", 0,
                                        backlog=BACKLOG)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server), limit=limit)
    return server, reader, writer


async def script_done(server, writer):
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    server.close()
    await server.wait_closed()
