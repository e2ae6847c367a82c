"""Twin of semantics.io.read_timeout: a read in a 50 ms timeout scope, then the late data."""
import asyncio
from _twin import code, run, trace, trace_at
from _streams import script_connect, script_done


async def main():
    server, reader, writer = await script_connect(b"", b"late")
    try:
        async with asyncio.timeout(0.050):
            await reader.read(16)
        rc = "ok"
    except BaseException as exc:
        rc = code(exc)
    trace_at(f"read in timeout(50 ms) -> {rc}")
    t = asyncio.create_task(reader.read(16), name="reader")
    try:
        await asyncio.wait_for(t, 0.030)
        rc = "ok"
    except BaseException as exc:
        rc = code(exc)
    trace_at(f"wait_for(read, 30 ms) -> {rc}, reader cancelled: {'yes' if t.cancelled() else 'no'}")
    writer.write(b"go\n")
    trace(f"readexactly(4) -> {(await reader.readexactly(4)).decode()}")
    await script_done(server, writer)


run(main)
