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
from pathlib import Path
from typing import NoReturn

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
    FileExistsError,
    ModelFileError,
    ImportError,
)


class UsageError(Exception):
    """A command line argparse refused: ``main`` prints it as one sentence and returns 2."""

    def __init__(self, prog: str, message: str):
        sentence = message.strip()
        sentence = sentence if sentence.endswith((".", "!", "?")) else sentence + "."
        # The same prefix as every other user error, so scripts can grep for one form.
        super().__init__(f"daekit: error: {sentence} See '{prog} --help'.")


class Parser(argparse.ArgumentParser):
    """argparse with daekit's error form: one sentence and where to read more.

    argparse's own form prints the whole usage block before the error, which buries the
    sentence that matters, and exits; this one raises :class:`UsageError` so that
    ``main`` returns 2 like every other user error. Subparsers inherit the class
    (argparse builds them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def group_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler for a command group run without a command: print its help, exit 2."""

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show_help


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
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
    """One readable sentence for an exception a user can act on.

    OS errors say what is at the path rather than repeating the C library's words: a
    "file not found" raised for a path that exists means a folder stood where a file was
    expected (or the reverse).
    """
    filename = getattr(e, "filename", None)
    if isinstance(e, FileNotFoundError) and filename:
        return _missing_sentence(str(filename))
    if isinstance(e, FileExistsError):  # mkdir(exist_ok=True) raises it only when a file is in the way
        return f"{filename or 'an output folder'} is a file, not a folder."
    if isinstance(e, IsADirectoryError) and filename:
        return f"{filename} is a folder, not a file; give a file here."
    if isinstance(e, NotADirectoryError) and filename:
        return _not_a_folder_sentence(str(filename))
    if isinstance(e, OSError) and not isinstance(e, ValueError) and filename and e.strerror:
        return f"{filename}: {e.strerror[0].lower()}{e.strerror[1:]}."  # not "[Errno 13] Permission denied: '...'"
    if isinstance(e, ImportError) and e.name and "pip install" not in str(e):
        return _missing_extra_sentence(e)
    text = str(e).strip() or type(e).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


def _missing_sentence(filename: str) -> str:
    path = Path(filename)
    if path.is_dir():
        return f"{filename} is a folder, not a file; give a file here."
    if path.exists():
        return f"{filename} is a file, not a folder; give a folder here."
    return f"{filename}: no such file or folder."


def _not_a_folder_sentence(filename: str) -> str:
    # "a/b.csv/c: not a directory" means some part of the path is a file: name that part.
    path = Path(filename)
    blocker = next((p for p in [path, *path.parents] if p.is_file()), None)
    if blocker is not None:
        return f"{filename}: {blocker} is a file, not a folder."
    return f"{filename}: a part of this path is not a folder."


# The package behind each optional import, by the name Python reports as missing.
_EXTRAS = {
    "PIL": "image",
    "soundfile": "audio",
    "scipy": "audio",
    "sklearn": "sklearn",
    "matplotlib": "plot",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxscript": "onnx",
    "fastapi": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
}


def _missing_extra_sentence(e: ImportError) -> str:
    top = (e.name or "").split(".")[0]
    if top in _EXTRAS:
        return f"this command needs the Python package '{top}': pip install 'daekit[{_EXTRAS[top]}]'."
    return f"a Python package this command needs is missing or broken ({e.name or e}); reinstall daekit."
