"""Twin of semantics.block.cpu_freezes: a blocking call freezes all tasks, debug names it."""
from _twin import run
from _block import block_main


async def main():
    await block_main("cpu")


run(main, debug=True)
