"""``wan-alpha train vae | dit``: the training stages, on accelerate."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and its stages to the top-level parser."""
    train = sub.add_parser("train", help="train a model stage (see `wan-alpha train STAGE --help`)")
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    # Each stage module adds its own parser below, e.g. ``_add_vae(stages)``; none is wired in yet,
    # so this group is registered in ``cli.COMMAND_MODULES`` by the first stage that lands.
    del stages
