"""Twin of semantics.block.nanosleep_freezes: a blocking call freezes all tasks, debug names it."""
from _twin import run
from _block import block_main


async def main():
    await block_main("nanosleep")


run(main, debug=True)
