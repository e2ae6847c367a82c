"""Twin of semantics.io.readexactly_eof: IncompleteReadError carries the partial bytes."""
import asyncio
from _twin import run, trace
from _streams import script_connect, script_done


async def main():
    server, reader, writer = await script_connect(b"12345")
    trace(f"readexactly(3) -> {(await reader.readexactly(3)).decode()}")
    try:
        await reader.readexactly(5)
    except asyncio.IncompleteReadError as exc:
        trace(f"readexactly(5) -> ENODATA partial '{exc.partial.decode()}' expected {exc.expected}")
    trace(f"at_eof -> {'yes' if reader.at_eof() else 'no'}")
    trace(f"read -> {len(await reader.read(16))} bytes")
    await script_done(server, writer)


run(main)
