"""Numeric arrays from ``.npy``, ``.npz`` and ``.csv`` files, checked before any training.

Every problem is reported as one sentence that names the file and what is accepted.
``.npy``/``.npz`` are read with ``allow_pickle=False``: an array of Python objects is
refused rather than unpickled.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .files import check_input_file, dtype_words, file_kind, undecodable_sentence

SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt")
_EXPECTED = "a .npy, .npz or .csv file of numbers"
# How a caller of load_array or load_numpy picks one array of an .npz: the CLI flag and the argument.
CHOOSE_KEY = "say which array to read with --key (key= in Python)"


def load_array(path: str | os.PathLike, key: str | None = None, min_rows: int = 1) -> np.ndarray:
    """Load a 2-D float32 array ``(N, F)`` (a 1-D file becomes ``(N, 1)``).

    Args:
        path: ``.npy``, ``.npz`` (array ``key``, else ``X``, else its only array) or a
            comma/tab separated text file with an optional header line.
        key: which array of an ``.npz`` to read.
        min_rows: fewer rows than this is an error.

    Raises:
        FileNotFoundError, ValueError: one sentence naming the file and the problem.
    """
    path = Path(path)
    check_input_file(path, _EXPECTED)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        kind = file_kind(path)
        what = f"holds {kind}" if kind else f"has the unsupported file type '{suffix or path.name}'"
        raise ValueError(f"{path}: {what}; use a .npy, .npz or .csv file of numbers.")
    if suffix in (".npy", ".npz"):
        arr = load_numpy(path, key)
    else:
        arr = _load_text(path, delimiter="\t" if suffix == ".tsv" else None)
    return check_array(arr, str(path), min_rows=min_rows)


def check_array(arr: np.ndarray, name: str = "input", min_rows: int = 1, n_features: int | None = None) -> np.ndarray:
    """Return ``arr`` as 2-D float32 after checking it is numeric, finite and big enough."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: holds {dtype_words(arr.dtype)}, not real numbers; a numeric table is expected.")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a table of shape (rows, features), got shape {arr.shape}.")
    if arr.shape[0] < min_rows or arr.shape[1] == 0:
        raise ValueError(
            f"{name}: has {arr.shape[0]} rows and {arr.shape[1]} columns; "
            f"at least {min_rows} row(s) and 1 column are needed."
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name}: has {arr.shape[1]} features but the model expects {n_features}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: {int(bad.sum())} value(s) are NaN or infinite (first at row {r}, column {c}); "
            "fill or drop them first."
        )
    return arr.astype(np.float32, copy=False)


def load_numpy(
    path: str | os.PathLike,
    key: str | None = None,
    choose: str = CHOOSE_KEY,
    default_keys: Sequence[str] = ("X",),
) -> np.ndarray:
    """The array of a ``.npy`` file, or one array of a ``.npz`` (``key``, else the first of
    ``default_keys`` it holds, else its only array), of any shape and dtype; never unpickled.

    Args:
        path: the file.
        key: which array of an ``.npz`` to read.
        choose: how the caller's user names the array, for the sentence when the ``.npz``
            holds several and none is a default (a reader without a ``--key`` flag says so).
        default_keys: the names read when ``key`` is None, in order.

    Raises:
        ValueError: one sentence when the file is empty, truncated or corrupt, is another
            kind of file, holds Python objects, or the ``.npz`` array to read is ambiguous.
    """
    path = Path(path)
    check_input_file(path, "a .npy or .npz file")
    return _load_npy(path) if path.suffix.lower() == ".npy" else _load_npz(path, key, choose, default_keys)


def _load_npy(path: Path) -> np.ndarray:
    # The header is read first: numpy's own errors call a truncated file and one of
    # Python objects alike, and it would take any bytes without the magic for a pickle.
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            kind = file_kind(path)
            what = f"holds {kind}" if kind else "does not start with NumPy's .npy header"
            raise ValueError(f"{path}: is not a readable .npy file: it {what}.")
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(f)
        except (ValueError, OSError, EOFError):
            raise ValueError(f"{path}: is not a readable .npy file: its header is truncated or corrupt.") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects, which daekit never unpickles; save a numeric array.")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise ValueError(
            f"{path}: is not a readable .npy file: its header promises an array of shape {shape} ({dtype}) "
            "but the data is truncated or corrupt."
        ) from None


def _load_npz(path: Path, key: str | None, choose: str, default_keys: Sequence[str]) -> np.ndarray:
    with open_npz(path) as archive:
        keys = list(archive.keys())
        if key is not None and key not in keys:
            raise ValueError(f"{path}: has no array '{key}'; it holds {', '.join(keys)}.")
        if key is None:
            key = next((k for k in default_keys if k in keys), keys[0] if len(keys) == 1 else None)
        if key is None:
            named = " or ".join(default_keys)
            raise ValueError(f"{path}: holds the arrays {', '.join(keys)} and none is named {named}; {choose}.")
        return npz_array(archive, path, key)


def open_npz(path: str | os.PathLike) -> Any:
    """``np.load(path, allow_pickle=False)`` for an ``.npz``, with one sentence when the
    file is not a readable archive of arrays (or holds none).

    Returns:
        the open ``NpzFile``; use it as a context manager.
    """
    path = Path(path)
    check_input_file(path, "an .npz file")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception:  # zipfile.BadZipFile, OSError, EOFError, numpy's "pickled data" ValueError...
        kind = file_kind(path)
        what = f": it holds {kind}" if kind and not kind.startswith("a ZIP") else " (truncated or corrupt)"
        raise ValueError(f"{path}: is not a readable .npz file{what}.") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # np.load reads an .npy whatever its name
        raise ValueError(f"{path}: is a .npy file named .npz; rename it to .npy.")
    if not archive.files:
        archive.close()
        raise ValueError(f"{path}: holds no arrays.")
    return archive


def npz_array(archive: Any, path: str | os.PathLike, key: str) -> np.ndarray:
    """Array ``key`` of an open ``.npz``, with one sentence when it cannot be read."""
    try:
        return archive[key]
    except ValueError:  # numpy's "Object arrays cannot be loaded when allow_pickle=False"
        raise ValueError(f"{path}: array '{key}' holds Python objects, which daekit never unpickles.") from None
    except Exception:
        raise ValueError(f"{path}: array '{key}' is not readable (truncated or corrupt).") from None


def _load_text(path: Path, delimiter: str | None) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from spreadsheet exports is not a header
    except UnicodeDecodeError as e:
        raise ValueError(undecodable_sentence(path, e, "comma or tab separated numbers")) from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: is empty (only blank lines); comma or tab separated numbers are expected.")
    if delimiter is None:
        delimiter = "\t" if "\t" in lines[0][1] else ","
    rows = [(n, next(csv.reader([ln], delimiter=delimiter))) for n, ln in lines]
    header = rows[0][1] if not all(_is_float(v) for v in rows[0][1]) else None
    if header is not None:
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: has a header line but no data rows.")
    first_line, first = rows[0]
    width = len(first)
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, (n, row) in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"{path}: line {n} has {len(row)} fields but line {first_line} has {width}; "
                "every row needs the same number of columns."
            )
        for j, v in enumerate(row):
            try:
                out[i, j] = float(v) if v.strip() else np.nan
            except ValueError:
                name = f" ('{header[j].strip()}')" if header is not None and j < len(header) else ""
                raise ValueError(
                    f"{path}: line {n}, column {j + 1}{name} holds {v.strip()[:30]!r}, not a number."
                ) from None
    return out


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return not v.strip()  # an empty cell is a missing number, not a header


def save_array(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Write ``arr`` as ``.npy`` or ``.csv`` (by suffix), atomically.

    Raises:
        ValueError: an unknown suffix; :class:`~daekit.io.NonFiniteOutputError` when ``arr``
        holds NaN or infinity; :class:`~daekit.io.OutputError` when ``path`` cannot be
        written. Any earlier file at ``path`` is then left as it was.
    """
    from ..io import atomic_write_bytes, check_finite_output

    path = Path(path)
    buf = io.BytesIO()
    if path.suffix.lower() not in (".npy", ".csv"):
        raise ValueError(f"{path}: output must end in .npy or .csv.")
    check_finite_output(arr, path)
    if path.suffix.lower() == ".npy":
        np.save(buf, np.asarray(arr), allow_pickle=False)
    else:
        np.savetxt(buf, np.asarray(arr), delimiter=",", fmt="%.7g")
    atomic_write_bytes(path, buf.getvalue())
    return path


def fit_standardizer(x: np.ndarray) -> dict:
    """Per-feature mean and scale of ``x`` as a JSON-ready dict (constant features get
    scale 1, so they pass through unchanged instead of dividing by zero)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return {"mean": mean.astype(float).tolist(), "std": std.astype(float).tolist()}


def standardize(x: np.ndarray, stats: dict) -> np.ndarray:
    return ((x - np.asarray(stats["mean"])) / np.asarray(stats["std"])).astype(np.float32)


def unstandardize(x: np.ndarray, stats: dict) -> np.ndarray:
    return (x * np.asarray(stats["std"]) + np.asarray(stats["mean"])).astype(np.float32)
