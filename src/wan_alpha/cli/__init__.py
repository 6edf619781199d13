"""``wan-alpha`` command line: argument parsing and error reporting only.

Each command group lives in its own module with ``register(subparsers)``; every command calls one
library function. User errors (:class:`WanAlphaError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import WanAlphaError
from . import data_commands, eval_commands, generate_commands, io_commands, train_commands

COMMAND_MODULES = [io_commands, data_commands, train_commands, generate_commands, eval_commands]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wan-alpha",
        description="Generate, convert and inspect transparent (RGBA) videos.",
        epilog='start with: wan-alpha generate "a red balloon floating up" -o balloon.webm --preview balloon.mp4 '
        "(the embedded model; nothing is downloaded)",
    )
    parser.add_argument("--version", action="version", version=f"wan-alpha {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except WanAlphaError as err:
        print(f"wan-alpha: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wan-alpha: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
