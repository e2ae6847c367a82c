"""Twin of semantics.tg.body_failure: a failing body counts like a failing child."""
import errno
from _twin import run
from _tg import tg_main


async def main():
    await tg_main([("a", 1000, 0, 0)], 10, body_err=errno.EIO)


run(main)
