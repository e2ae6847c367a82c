"""Twin of semantics.shield.outer_cancel: the outer is cancelled, the shielded inner completes."""
from _twin import run
from _shield import shield_main


async def main():
    await shield_main({"sleep_ms": 30, "value": 9}, cancel_inner=False)


run(main)
