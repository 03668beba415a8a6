"""Generation spread over the GPUs of a Ray cluster (`pixelbuild build --ray ADDRESS`).

This module holds only the command-line option (the no-op path parses it); the runner is in
runner.py and the actors in actor.py, imported when a build needs them.
"""

from __future__ import annotations

from typing import Any


def add_ray_option(parser: Any) -> None:
    """`--ray ADDRESS` on a command that generates (build, watch)."""
    parser.add_argument_group("cluster").add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="generate on the GPUs of a Ray cluster (one actor per GPU, the engine kept warm); "
        "ADDRESS: the head's host:port, ray://host:10001 or auto. Needs the [ray] extra and "
        "the same pixelbuild, models and LoRA files on every node",
    )
