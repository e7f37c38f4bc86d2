"""What an input file is, said in words: the checks every reader makes before parsing.

A reader that meets the wrong thing should say what it met, not what it failed to do: a
folder is "a folder", not "no such file"; a PNG named ``data.csv`` is "a PNG image", not
"not UTF-8"; a truncated ``.npy`` is "truncated", not "Python objects". These helpers
give the readers in ``daekit.data`` those words.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["check_input_file", "file_kind", "undecodable_sentence", "dtype_words"]

# Leading bytes of the formats people hand to the wrong command, and what to call them.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF file (WAV audio or WebP image)"),
    (b"fLaC", "a FLAC recording"),
    (b"OggS", "an Ogg recording"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"PK\x03\x04", "a ZIP archive (such as an .npz)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
)


def check_input_file(path: Path, expected: str) -> None:
    """Refuse ``path`` unless it is an existing, non-empty regular file.

    Args:
        path: the file to read.
        expected: what a right file would be, for the sentence ("a .npy, .npz or .csv file").

    Raises:
        FileNotFoundError: nothing is there.
        ValueError: a folder, something that is not a regular file, or an empty file.
    """
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a file; {expected} is expected.")
    if not path.exists():
        raise FileNotFoundError(2, "no such file", str(path))
    if not path.is_file():
        raise ValueError(f"{path}: is not a regular file; {expected} is expected.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (0 bytes); {expected} is expected.")


def file_kind(path: str | os.PathLike) -> str | None:
    """What the file's first bytes say it is ("a PNG image"...), or None when they say nothing."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV recording"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def undecodable_sentence(path: Path, error: UnicodeDecodeError, expected: str) -> str:
    """Why a file that should be text could not be decoded as UTF-8: it is another kind of
    file, binary data, or text in another encoding (which is worth re-saving, not retyping)."""
    kind = file_kind(path)
    if kind:
        return f"{path}: holds {kind}, not {expected}."
    if b"\x00" in error.object[:4096]:
        return f"{path}: is a binary file, not {expected}."
    line = error.object[: error.start].count(b"\n") + 1
    return f"{path}: is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line {line}); save it as UTF-8."


def dtype_words(dtype: np.dtype) -> str:
    """A dtype as a user would say it: "text", "complex numbers", "Python objects"..."""
    words = {
        "U": "text",
        "S": "bytes (text)",
        "O": "Python objects",
        "c": "complex numbers",
        "M": "dates",
        "m": "time spans",
        "V": "records with named fields",
    }
    return words.get(dtype.kind, f"values of type {dtype}")
