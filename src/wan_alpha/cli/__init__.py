"""``wan-alpha`` command line: argument parsing and error reporting only.

Each command group lives in its own module with ``register(subparsers)``; every command calls one
library function. :func:`main` is the one place errors reach the user: a user error (:class:`WanAlphaError`)
prints one line and exits 2, Ctrl-C and SIGTERM exit 130 / 143 (outputs in progress removed), a closed pipe
(``wan-alpha info x | head``) ends quietly, and anything else prints one line; the traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator

from .. import __version__
from ..errors import WanAlphaError, one_line
from . import app_commands, data_commands, eval_commands, generate_commands, io_commands, train_commands

COMMAND_MODULES = [io_commands, data_commands, train_commands, generate_commands, eval_commands, app_commands]
EXIT_USER_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_BROKEN_PIPE = 2, 130, 143, 141
_GIB = 1024**3
# diffusers imports torchao whenever it is installed (the [quant] extra); torchao then logs, on every command,
# that its kernels for other GPUs/torch builds did not load: noise unless --debug
_IMPORT_NOISE = ("torchao", "torch.utils._pytree", "diffusers.quantizers.torchao.torchao_quantizer")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that every atomic output in progress is cleaned up as on Ctrl-C."""


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("global options (anywhere on the command line)")
    group.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    group.add_argument("--max-pixels", type=int, metavar="N",
                       help="largest input frame in pixels (default 67108864 = 8192x8192); checked from headers")
    group.add_argument("--max-frames", type=int, metavar="N", help="most frames an input may hold (default 20000)")
    group.add_argument("--max-decoded-gib", type=float, metavar="G",
                       help="most RGBA bytes one input may decode to, in GiB (default 4)")


def _global_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The global options wherever they stand (before or after the command), and the rest of ``argv``."""
    parser = argparse.ArgumentParser(prog="wan-alpha", add_help=False, allow_abbrev=False)
    _add_global_options(parser)
    try:
        split = argv.index("--")  # after "--" everything is a positional value
    except ValueError:
        split = len(argv)
    options, rest = parser.parse_known_args(argv[:split])
    return options, rest + argv[split:]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wan-alpha",
        description="Generate, convert and inspect transparent (RGBA) videos.",
        epilog='start with: wan-alpha generate "a red balloon floating up" -o balloon.webm --preview balloon.mp4 '
        "(the embedded model; nothing is downloaded)",
    )
    parser.add_argument("--version", action="version", version=f"wan-alpha {__version__}")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def terminate(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _apply_limits(options: argparse.Namespace) -> None:
    from ..io.limits import set_limits  # Pillow loads only when a command runs

    gib = options.max_decoded_gib
    set_limits(max_pixels=options.max_pixels, max_frames=options.max_frames,
               max_decoded_bytes=None if gib is None else max(1, round(gib * _GIB)))


def _report(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"wan-alpha: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    options, rest = _global_options(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(rest)
    if not options.debug:
        for name in _IMPORT_NOISE:
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with _sigterm_as_interrupt():
            _apply_limits(options)
            return args.func(args) or 0
    except WanAlphaError as err:
        _report(f"error: {one_line(err)}", options.debug)
        return EXIT_USER_ERROR
    except Terminated:
        _report("terminated", options.debug)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _report("interrupted", options.debug)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`| head`): say nothing, and keep Python from failing again on flushing stdout
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except MemoryError:
        _report("error: out of memory: use a smaller size, fewer frames, or lower --max-decoded-gib "
                "(rerun with --debug for the traceback)", options.debug)
        return EXIT_USER_ERROR
    except Exception as err:  # a bug, or a library failing on input no check caught: one line unless --debug
        if type(err).__name__ == "DecompressionBombError":  # Pillow's bomb check on a path our limits missed
            _report(f"error: {one_line(err)} (raise the limit with --max-pixels N)", options.debug)
            return EXIT_USER_ERROR
        _report(f"internal error: {type(err).__name__}: {one_line(err)} (rerun with --debug for the traceback)",
                options.debug)
        return 1


if __name__ == "__main__":
    sys.exit(main())
