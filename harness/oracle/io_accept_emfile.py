"""Twin of semantics.io.accept_emfile: out of fds, the server pauses accepting for a second."""
import asyncio
import os
import resource
import socket
from _twin import code, run, trace_at
from _streams import BACKLOG, echo_handler, port_of


def lowest_free_fd():
    fd = 0
    while True:
        try:
            os.fstat(fd)
        except OSError:
            return fd
        fd += 1


async def main():
    server = await asyncio.start_server(echo_handler, "127.0.0.1", 0, backlog=BACKLOG)
    loop = asyncio.get_running_loop()
    # asyncio logs the failed accept with a traceback, whose source lines linecache then fails
    # to open (no fds) at some cost; the C runtime prints one line. Neither is the behaviour.
    loop.set_exception_handler(lambda loop, context: None)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free_fd(), old[1]))
    s.connect(("127.0.0.1", port_of(server)))
    try:
        await asyncio.sleep(0.3)
        rc = "ok"
    except BaseException as exc:
        rc = code(exc)
    resource.setrlimit(resource.RLIMIT_NOFILE, old)
    trace_at(f"sleep while out of fds -> {rc}")
    s.send(b"hi\n")
    s.setblocking(False)
    data = await asyncio.wait_for(loop.sock_recv(s, 7), 3)
    trace_at(f"echo -> {data.decode().rstrip()}")
    s.close()
    server.close()
    await server.wait_closed()


run(main)
