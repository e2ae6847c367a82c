"""Twin of semantics.shield.inner_cancel: cancelling the shielded inner cancels the outer too."""
from _twin import run
from _shield import shield_main


async def main():
    await shield_main({"sleep_ms": 1000}, cancel_inner=True)


run(main)
