"""Twin of semantics.io.block_latency: the seeds' lesson on sockets (nanosleep in one handler)."""
from _twin import run
from _latency import lat_main


async def main():
    await lat_main("nanosleep")


run(main, debug=True)
