"""Twin of semantics.io.cpu_latency: the seeds' lesson on sockets (cpu in one handler)."""
from _twin import run
from _latency import lat_main


async def main():
    await lat_main("cpu")


run(main, debug=True)
