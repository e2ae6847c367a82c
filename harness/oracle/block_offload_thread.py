"""Twin of semantics.block.offload_thread: the same work in run_in_executor keeps the loop going."""
from _twin import run
from _block import block_main


async def main():
    await block_main("thread")


run(main, debug=True)
