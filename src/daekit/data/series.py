"""Time series from files: a :func:`daekit.data.table.read_table` table read in time order.

A series is a ``(T, C)`` float64 array (time first, one column per channel), with the
timestamps when the file has a time column. Rows must already be in time order; a
detector scores them in the order given.

Example:
    >>> s = read_series("machine_temperature.csv", min_steps=64)   # doctest: +SKIP
    >>> s.values.shape, s.time_column                               # doctest: +SKIP
    ((22695, 1), 'timestamp')
"""

from __future__ import annotations

import os

from .table import Table, read_table

__all__ = ["read_series"]


def read_series(
    path: str | os.PathLike, columns: list[str] | str | None = None, timestamp: str | None = "auto", min_steps: int = 2
) -> Table:
    """Read a series: like ``read_table``, with "time steps" in the too-short message.

    Args:
        path: ``.csv``/``.tsv``/``.txt``, ``.npy`` or ``.npz`` file.
        columns: channels to keep (names or 0-based positions); None keeps every numeric one.
        timestamp: ``"auto"``, a column name, or None (see ``read_table``).
        min_steps: fewer time steps than this is an error (a detector needs one window).

    Returns:
        a :class:`~daekit.data.table.Table` whose ``values`` are ``(T, C)``.
    """
    table = read_table(path, columns=columns, timestamp=timestamp, min_rows=1)
    if len(table.values) < min_steps:
        raise ValueError(
            f"{table.source}: has {len(table.values)} time steps; at least {min_steps} are needed (one window)."
        )
    return table
