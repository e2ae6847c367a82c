"""Twin of semantics.io.offload_latency: the seeds' lesson on sockets (thread in one handler)."""
from _twin import run
from _latency import lat_main


async def main():
    await lat_main("thread")


run(main, debug=True)
