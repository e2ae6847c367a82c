"""Twin of semantics.io.readuntil_limit: readuntil, LimitOverrunError, IncompleteReadError."""
import asyncio
from _twin import run, trace
from _streams import script_connect, script_done


async def main():
    payload = b"alpha||beta||" + b"0" * 100 + b"||tail"
    server, reader, writer = await script_connect(payload, limit=64)
    await asyncio.sleep(0.050)
    for _ in range(2):
        trace(f"readuntil -> {(await reader.readuntil(b'||')).decode()}")
    try:
        await reader.readuntil(b"||")
        consumed = None
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    trace(f"readuntil -> EMSGSIZE consumed {consumed}")
    skipped = await reader.readexactly(consumed + 2)
    trace(f"skipped {len(skipped)} bytes")
    try:
        await reader.readuntil(b"||")
        partial = None
    except asyncio.IncompleteReadError as exc:
        partial = exc.partial
    trace(f"readuntil at EOF -> ENODATA partial '{partial.decode()}'")
    trace(f"at_eof -> {'yes' if reader.at_eof() else 'no'}")
    await script_done(server, writer)


run(main)
