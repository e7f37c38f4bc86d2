"""Numeric arrays from ``.npy``, ``.npz`` and ``.csv`` files, checked before any training.

Every problem is reported as one sentence that names the file and what is accepted.
``.npy``/``.npz`` are read with ``allow_pickle=False``: an array of Python objects is
refused rather than unpickled.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt")


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
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: unsupported file type '{suffix or path.name}' (use .npy, .npz or .csv).")
    if suffix in (".npy", ".npz"):
        arr = load_numpy(path, key)
    else:
        arr = _load_text(path, delimiter="\t" if suffix == ".tsv" else None)
    return check_array(arr, str(path), min_rows=min_rows)


def check_array(arr: np.ndarray, name: str = "input", min_rows: int = 1, n_features: int | None = None) -> np.ndarray:
    """Return ``arr`` as 2-D float32 after checking it is numeric, finite and big enough."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: values must be numbers, got an array of {arr.dtype}.")
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


def load_numpy(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """The array of a ``.npy`` file, or one array of a ``.npz`` (``key``, else ``X``, else
    its only array), of any shape and dtype; never unpickled.

    Raises:
        ValueError: one sentence when the file is corrupt, holds Python objects, or the
            ``.npz`` array to read is ambiguous.
    """
    path = Path(path)
    return _load_npy(path) if path.suffix.lower() == ".npy" else _load_npz(path, key)


def _load_npy(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":  # numpy would otherwise take any other bytes for a pickle
            raise ValueError(f"{path}: is not a readable .npy file (truncated or corrupt).")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError:
        raise ValueError(f"{path}: holds Python objects, which daekit never unpickles; save a numeric array.") from None
    except (OSError, EOFError):
        raise ValueError(f"{path}: is not a readable .npy file (truncated or corrupt).") from None


def _load_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception:  # zipfile.BadZipFile, OSError, EOFError...
        raise ValueError(f"{path}: is not a readable .npz file (truncated or corrupt).") from None
    with archive:
        keys = list(archive.keys())
        if key is None:
            key = "X" if "X" in keys else (keys[0] if len(keys) == 1 else None)
        if key not in keys:
            raise ValueError(f"{path}: say which array to read with its key, one of {keys} (key={key!r} not found).")
        try:
            return archive[key]
        except ValueError:
            raise ValueError(f"{path}: array '{key}' holds Python objects, which daekit never unpickles.") from None
        except Exception:
            raise ValueError(f"{path}: array '{key}' is not readable (truncated or corrupt).") from None


def _load_text(path: Path, delimiter: str | None) -> np.ndarray:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: is not a text file (expected comma or tab separated numbers).") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: is empty.")
    if delimiter is None:
        delimiter = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    if rows and not all(_is_float(v) for v in rows[0]):
        rows = rows[1:]  # a header line
    width = len(rows[0]) if rows else 0
    out = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{path}: line {i + 2} has {len(row)} fields, the first data line has {width}.")
        for j, v in enumerate(row):
            try:
                out[i, j] = float(v) if v.strip() else np.nan
            except ValueError:
                raise ValueError(f"{path}: value {v!r} in column {j} is not a number.") from None
    return out


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return not v.strip()  # an empty cell is a missing number, not a header


def save_array(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Write ``arr`` as ``.npy`` or ``.csv`` (by suffix), atomically."""
    from ..io import atomic_write_bytes

    path = Path(path)
    buf = io.BytesIO()
    if path.suffix.lower() == ".npy":
        np.save(buf, np.asarray(arr), allow_pickle=False)
    elif path.suffix.lower() == ".csv":
        np.savetxt(buf, np.asarray(arr), delimiter=",", fmt="%.7g")
    else:
        raise ValueError(f"{path}: output must end in .npy or .csv.")
    path.parent.mkdir(parents=True, exist_ok=True)
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
