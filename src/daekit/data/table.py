"""Tables from CSV, ``.npy`` and ``.npz`` files: header and timestamp column detected.

``read_table`` returns a :class:`Table`: a float64 ``(N, F)`` array, the column names,
and the timestamps when the file has a time column. Everything a detector cannot use
is refused with one sentence naming the file, the row or column, and what is accepted:
NaN or infinite values, empty cells, text in a numeric column, too few rows.

Example:
    >>> t = read_table("sensors.csv", columns=["pressure", "flow"])   # doctest: +SKIP
    >>> t.values.shape, t.columns, t.timestamps[:1]                    # doctest: +SKIP
    ((1000, 2), ['pressure', 'flow'], ['2020-03-09 10:14:33'])
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from .arrays import load_numpy
from .files import check_input_file, dtype_words, file_kind, undecodable_sentence

__all__ = ["Table", "read_table", "select_columns", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".npy", ".npz")
TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts")
# What pandas' to_csv and similar tools call a row-index column (first position only).
INDEX_NAMES = ("", "index", "unnamed: 0")


@dataclass
class Table:
    """Numeric columns of a file, with names and (optional) timestamps.

    Attributes:
        values: ``(N, F)`` float64 array, all finite.
        columns: F column names (``col0``, ``col1``... when the file has no header).
        timestamps: N strings from the timestamp column, or None.
        time_column: name of that column, or None.
        source: the file it came from.
    """

    values: np.ndarray
    columns: list[str]
    timestamps: list[str] | None = None
    time_column: str | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)


def read_table(
    path: str | os.PathLike,
    columns: list[str] | str | None = None,
    timestamp: str | None = "auto",
    min_rows: int = 1,
    npz_key: str | None = None,
) -> Table:
    """Read a numeric table.

    Args:
        path: ``.csv``/``.tsv``/``.txt`` (separator ``,``, ``;`` or tab, detected; header
            detected), ``.npy`` (2-D, or 1-D as one column) or ``.npz`` (array ``npz_key``,
            else ``X``, else its only array).
        columns: names (or 0-based positions) of the columns to keep, as a list or a
            comma-separated string; None keeps every numeric column.
        timestamp: ``"auto"`` detects a time column: one holding dates, one named like
            ``timestamp``/``time``/``date`` holding text or increasing numbers, or a first
            column with an empty, ``index`` or ``Unnamed: 0`` header holding increasing
            numbers (a saved row index); a name picks one; None means there is none.
        min_rows: fewer rows than this is an error.
        npz_key: which array of an ``.npz`` file to read.

    Returns:
        a :class:`Table`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: one sentence saying which file, what is wrong, and what is accepted.
    """
    path = Path(path)
    check_input_file(path, f"a table ({', '.join(TABLE_SUFFIXES)})")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        kind = file_kind(path)
        what = f"holds {kind}, not a table" if kind else f"unsupported file type '{suffix or path.name}'"
        raise ValueError(f"{path}: {what} (accepted: {', '.join(TABLE_SUFFIXES)}).")
    if suffix in (".npy", ".npz"):
        table = _read_numpy(path, npz_key)
    else:
        table = _read_text(path, timestamp, columns)  # only the chosen columns are parsed
    if columns is not None and suffix in (".npy", ".npz"):
        table = select_columns(table, columns)
    _check_values(table, min_rows)
    return table


def select_columns(table: Table, columns: list[str] | str) -> Table:
    """Keep the named (or 0-based numbered) columns, in the order given."""
    idx = _resolve(columns, table.columns, list(range(len(table.columns))), table.source)
    return Table(
        table.values[:, idx], [table.columns[i] for i in idx], table.timestamps, table.time_column, table.source
    )


def _resolve(columns: list[str] | str, names: list[str], positions: list[int], source: str) -> list[int]:
    """Positions (from ``positions``) of the wanted columns, by name or 0-based number."""
    wanted = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else [str(c) for c in columns]
    wanted = [c for c in wanted if c]
    if not wanted:
        raise ValueError(f"{source}: no columns were named (use e.g. --columns a,b or --columns 0,2).")
    out = []
    for name in wanted:
        if name in names:
            out.append(positions[names.index(name)])
        elif name.isdigit() and int(name) < len(names):
            out.append(positions[int(name)])
        else:
            known = ", ".join(names)
            raise ValueError(f"{source}: no column '{name}' (columns: {known}){_placeholder_note(name, names)}.")
    return out


def _placeholder_note(name: str, names: list[str]) -> str:
    # A model fitted on a file without a header knows its columns as col0, col1...; a file
    # with a header names them otherwise, and the bare "no column 'col0'" reads as a typo.
    if re.fullmatch(r"col\d+", name) and not any(re.fullmatch(r"col\d+", n) for n in names):
        return "; col0, col1... are the names daekit gives the columns of a file without a header line"
    return ""


# -- text files ---------------------------------------------------------------------------


def _read_text(path: Path, timestamp: str | None, columns: list[str] | str | None) -> Table:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(undecodable_sentence(path, e, "a CSV of numbers")) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: the file is empty; a CSV with at least one row of numbers is expected.")
    delimiter = _sniff_delimiter(lines[0], path.suffix.lower())
    rows = list(csv.reader(lines, delimiter=delimiter))
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"{path}: line {i + 1} has {len(row)} fields but the first line has {width}; "
                "every row needs the same number of columns."
            )
    has_header = _looks_like_header(rows)
    names = [h.strip() or f"col{j}" for j, h in enumerate(rows[0])] if has_header else [f"col{j}" for j in range(width)]
    body = rows[1:] if has_header else rows
    first_line = 2 if has_header else 1
    if not body:
        raise ValueError(f"{path}: the file has a header but no data rows.")

    time_col = _find_time_column(names, body, timestamp, path, rows[0] if has_header else None)
    timestamps = [r[time_col].strip() for r in body] if time_col is not None else None
    keep = [j for j in range(width) if j != time_col]
    if columns is not None:
        keep = _resolve(columns, [names[j] for j in keep], keep, str(path))
    if not keep:
        raise ValueError(f"{path}: the file has only a timestamp column; at least one numeric column is needed.")
    values = np.empty((len(body), len(keep)))
    for k, j in enumerate(keep):
        for i, row in enumerate(body):
            cell = row[j].strip()
            try:
                values[i, k] = float(cell)
            except ValueError:
                what = "an empty cell" if not cell else f"the text '{cell[:30]}'"
                raise ValueError(
                    f"{path}: column '{names[j]}' holds {what} at line {i + first_line}; "
                    "every column except one timestamp column must be numeric "
                    "(pick numeric columns with --columns)."
                ) from None
    return Table(
        values, [names[j] for j in keep], timestamps, names[time_col] if time_col is not None else None, str(path)
    )


def _sniff_delimiter(line: str, suffix: str) -> str:
    if suffix == ".tsv" or "\t" in line:
        return "\t"
    if ";" in line and line.count(";") >= line.count(","):
        return ";"
    return ","


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _looks_like_header(rows: list[list[str]]) -> bool:
    # A header is a first row with a cell that is neither a number nor a date: data rows
    # hold numbers and, at most, timestamps.
    return any(not _is_number(c) and not _is_date(c) for c in rows[0])


def _is_date(cell: str) -> bool:
    cell = cell.strip()
    if not cell or _is_number(cell):
        return False
    try:
        datetime.fromisoformat(cell.replace("Z", "+00:00").replace("/", "-"))
        return True
    except ValueError:
        return False


def _find_time_column(
    names: list[str], body: list[list[str]], timestamp: str | None, path: Path, header: list[str] | None = None
) -> int | None:
    if timestamp is None:
        return None
    if timestamp != "auto":
        if timestamp not in names:
            raise ValueError(f"{path}: no column '{timestamp}' to use as timestamps (columns: {', '.join(names)}).")
        return names.index(timestamp)
    sample = body[: min(len(body), 20)]
    for j, name in enumerate(names):
        cells = [r[j] for r in sample]
        if all(_is_date(c) for c in cells):
            return j
        time_named = name.strip().lower() in TIME_NAMES
        index_named = header is not None and j == 0 and header[0].strip().lower() in INDEX_NAMES
        if time_named and not all(_is_number(c) for c in cells):
            return j
        # A time or row-index column written as plain numbers (seconds, 0, 1, 2...) is the
        # time axis, not a feature: as data it would grow without bound and look anomalous.
        if (time_named or index_named) and _strictly_increasing([r[j] for r in body]):
            return j
    return None


def _strictly_increasing(cells: list[str]) -> bool:
    if len(cells) < 2 or not all(_is_number(c) for c in cells):
        return False
    values = np.array([float(c) for c in cells])
    return bool(np.all(np.diff(values) > 0))


# -- numpy files --------------------------------------------------------------------------


# read_table's callers have no --key flag of their own (daekit anomaly), so the way out is
# the array's name or the file itself.
_CHOOSE_NPZ_KEY = "say which array to read with npz_key= in Python, or save the data as X"


def _read_numpy(path: Path, key: str | None) -> Table:
    arr = load_numpy(path, key, choose=_CHOOSE_NPZ_KEY)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: holds {dtype_words(arr.dtype)}, not real numbers; a numeric array is expected.")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{path}: holds an array of shape {arr.shape}; a 2-D (rows, columns) array is expected.")
    return Table(arr.astype(np.float64), [f"col{j}" for j in range(arr.shape[1])], None, None, str(path))


def _check_values(table: Table, min_rows: int) -> None:
    n = len(table.values)
    if n < min_rows:
        raise ValueError(f"{table.source}: has {n} row{'s' if n != 1 else ''}; at least {min_rows} are needed.")
    bad = ~np.isfinite(table.values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        kind = "NaN" if math.isnan(table.values[i, j]) else "an infinite value"
        raise ValueError(
            f"{table.source}: column '{table.columns[j]}' holds {kind} at data row {i + 1}; "
            "fill or drop missing values first."
        )
