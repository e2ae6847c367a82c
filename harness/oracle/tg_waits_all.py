"""Twin of semantics.tg.waits_all: the TaskGroup exit waits for every child."""
from _twin import run
from _tg import tg_main


async def main():
    await tg_main([("a", 10, 0, 0), ("b", 30, 0, 0), ("c", 20, 0, 0)], 0)


run(main)
