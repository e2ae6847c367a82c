"""Twin of semantics.tg.child_failure: a failing child cancels the rest and the body."""
import errno
from _twin import run
from _tg import tg_main


async def main():
    await tg_main([("a", 10, errno.EIO, 0), ("c", 1000, 0, errno.EINVAL)], 1000)


run(main)
