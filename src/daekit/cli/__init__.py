"""The ``daekit`` command line: argparse, ``main(argv) -> int``, each subcommand a shim.

Each command group lives in its own module (``cli/core.py``, ``cli/image.py``...) that
exposes ``register(subparsers)``; handlers take the parsed arguments and return an exit
code. Errors a user can fix (a missing file, a bad value, a missing extra) are printed
as one sentence with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from .. import __version__
from ..io import ModelFileError

# Command-group modules, in the order their commands are listed in ``daekit --help``.
COMMAND_MODULES = ("core", "image", "noise", "anomaly", "audio", "features", "serve")

USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ModelFileError,
    ImportError,
)


def group_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler for a command group run without a command: print its help, exit 2."""

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daekit",
        description="Denoising autoencoders for images, speech, time series and tables: train, denoise, "
        "detect anomalies, learn features. Run 'daekit COMMAND --help' for each command.",
    )
    parser.add_argument("--version", action="version", version=f"daekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 partial failure, 2 user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if args.command is None else 0
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        print(f"daekit: error: {error_sentence(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("daekit: interrupted", file=sys.stderr)
        return 130


def error_sentence(e: BaseException) -> str:
    """One readable sentence for an exception a user can act on."""
    if isinstance(e, FileNotFoundError) and e.filename:
        return f"{e.filename}: no such file or folder."
    if isinstance(e, (PermissionError, IsADirectoryError, NotADirectoryError)) and e.filename:
        return f"{e.filename}: {e.strerror.lower() if e.strerror else 'cannot be used'}."
    text = str(e).strip() or type(e).__name__
    return text if text.endswith((".", "!", "?")) else text + "."
