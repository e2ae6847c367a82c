#!/usr/bin/env python3
"""lchttp_asyncio.py: the loopconf HTTP server in CPython asyncio (a Protocol, standard library
only), or on uvloop with --uvloop: the cross-check for the C servers and for the seeds' uvloop
claim. Same responses as harness/http/lchttp_proto.c: /plaintext, /json, 404 otherwise; 400 and
close for a malformed request, 431 for headers over --max-header-bytes, close after
--header-timeout-ms without a complete request head. Request parsing is a small hand-written
one here (the standard library has no incremental HTTP parser); it handles what the C servers'
tests send: request lines, headers, Content-Length bodies, Connection: close, HTTP/1.0.
Prints "lchttp-port N" once listening and exits when stdin reaches EOF."""
import argparse
import asyncio
import email.utils
import re
import sys
import time

REQ_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.([01])$")
BODIES = {
    b"/plaintext": (b"text/plain", b"Hello, World!"),
    b"/json": (b"application/json", b'{"message":"Hello, World!"}'),
}

_date = [0, b""]


def http_date():
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = email.utils.formatdate(now, usegmt=True).encode()
    return _date[1]


def response(status, reason, ctype, body, close, head=False):
    h = (b"HTTP/1.1 %d %s\r\nServer: loopconf\r\nDate: %s\r\nContent-Type: %s\r\n"
         b"Content-Length: %d\r\n%s\r\n" % (status, reason, http_date(), ctype, len(body),
                                             b"Connection: close\r\n" if close else b""))
    return h if head else h + body


class HttpProtocol(asyncio.Protocol):
    def __init__(self, opts):
        self.opts = opts
        self.buf = bytearray()
        self.body_left = 0
        self.transport = None
        self.timer = None

    def connection_made(self, transport):
        self.transport = transport
        self.arm()

    def arm(self):
        if self.timer is None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.opts.header_timeout_ms / 1000, self.expire)

    def disarm(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def expire(self):
        self.timer = None
        if self.transport is not None:
            self.transport.close()

    # back-pressure: a client that pipelines without reading stops being read
    def pause_writing(self):
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self):
        if self.transport is not None:
            self.transport.resume_reading()

    def connection_lost(self, exc):
        self.disarm()
        self.transport = None

    def fail(self, status, reason):
        self.transport.write(response(status, reason, b"text/plain", reason, True))
        self.transport.close()
        self.disarm()

    def data_received(self, data):
        self.buf += data
        out = []
        close = False
        while self.transport is not None:
            if self.body_left:
                k = min(self.body_left, len(self.buf))
                del self.buf[:k]
                self.body_left -= k
                if self.body_left:
                    break
                continue
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > self.opts.max_header_bytes:
                    self.flush(out)
                    return self.fail(431, b"Request Header Fields Too Large")
                if self.buf and not re.match(rb"^[A-Z]*( |$)", bytes(self.buf[:16])):
                    self.flush(out)
                    return self.fail(400, b"Bad Request")
                break
            if end > self.opts.max_header_bytes:
                self.flush(out)
                return self.fail(431, b"Request Header Fields Too Large")
            lines = bytes(self.buf[:end]).split(b"\r\n")
            del self.buf[:end + 4]
            m = REQ_LINE.match(lines[0])
            if not m:
                self.flush(out)
                return self.fail(400, b"Bad Request")
            method, path, minor = m.groups()
            keep = minor == b"1"
            length = 0
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip():
                    self.flush(out)
                    return self.fail(400, b"Bad Request")
                name = name.lower()
                value = value.strip().lower()
                if name == b"connection":
                    keep = value == b"keep-alive" if minor == b"0" else value != b"close"
                elif name == b"content-length":
                    if not value.isdigit():
                        self.flush(out)
                        return self.fail(400, b"Bad Request")
                    length = int(value)
                elif name == b"transfer-encoding":
                    self.flush(out)
                    return self.fail(400, b"Bad Request")  # chunked bodies: not served here
            self.body_left = length
            ctype, body = BODIES.get(path, (b"text/plain", b"Not Found"))
            status, reason = (200, b"OK") if path in BODIES else (404, b"Not Found")
            out.append(response(status, reason, ctype, body, not keep, method == b"HEAD"))
            if not keep:
                close = True
                break
            self.disarm()
            self.arm()  # a fresh header deadline for the next request
        self.flush(out)
        if close and self.transport is not None:
            self.transport.close()
            self.disarm()
        elif self.body_left:
            self.disarm()

    def flush(self, out):
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            out.clear()


async def main(opts):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(opts), opts.host, opts.port,
                                      backlog=4096)
    print("lchttp-port %d" % server.sockets[0].getsockname()[1], flush=True)
    done = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.raw.read(64):
            loop.remove_reader(0)
            if not done.done():
                done.set_result(None)

    loop.add_reader(0, on_stdin)
    await done
    server.close()


def cli():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--header-timeout-ms", type=int, default=10000)
    ap.add_argument("--max-header-bytes", type=int, default=8192)
    opts = ap.parse_args()
    if opts.uvloop:
        try:
            import uvloop
        except ImportError:
            print("lchttp_asyncio: error: uvloop is not installed (Debian: python3-uvloop)",
                  file=sys.stderr)
            sys.exit(2)
        uvloop.install()
    asyncio.run(main(opts))


if __name__ == "__main__":
    cli()
