"""Twin of semantics.io.cancel_read: bytes that arrived before a read was cancelled stay."""
import asyncio
from _twin import code, run, trace
from _streams import script_connect, script_done


async def main():
    server, reader, writer = await script_connect(b"abc", b"defghij")

    async def rd():
        try:
            await reader.readexactly(10)
            trace("reader: readexactly(10) -> ok")
        except BaseException as exc:
            trace(f"reader: readexactly(10) -> {code(exc)}")
            raise

    t = asyncio.create_task(rd(), name="reader")
    await asyncio.sleep(0.050)
    trace(f"buffered before cancel -> {len(reader._buffer)}")  # no public accessor in asyncio
    t.cancel()
    try:
        await t
        trace("await reader -> ok")
    except BaseException as exc:
        trace(f"await reader -> {code(exc)}")
    trace(f"buffered after cancel -> {len(reader._buffer)}")
    trace(f"read -> {(await reader.read(16)).decode()}")
    writer.write(b"go\n")
    trace(f"readexactly(7) -> {(await reader.readexactly(7)).decode()}")
    await script_done(server, writer)


run(main)
