"""A picture of a detection: the series with flagged points, and the scores with the threshold."""

from __future__ import annotations

import io
import os

import numpy as np

from ..io import atomic_write_bytes

__all__ = ["plot_detection"]


def plot_detection(
    path: str | os.PathLike,
    values: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    columns: list[str] | None = None,
    title: str = "",
    flags: np.ndarray | None = None,
) -> None:
    """Write a PNG: each column over time with flagged steps marked, and the score below.

    Args:
        path: the PNG to write (atomically).
        values: ``(T, C)`` data as read (up to 8 columns are drawn, each min-max scaled
            when there are several, so they share one axis).
        scores: ``(T,)`` anomaly scores; steps above ``threshold`` are flagged.
        threshold: the detector's threshold, drawn as a line.
        columns: column names for the legend.
        title: plot title.
        flags: ``(T,)`` 0/1 steps to mark (default: the steps above ``threshold``).

    Raises:
        ImportError: matplotlib is missing (``pip install 'daekit[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'daekit[plot]'.") from None
    values = np.asarray(values, dtype=np.float64).reshape(len(scores), -1)
    flags = np.asarray(scores) > threshold if flags is None else np.asarray(flags).astype(bool)
    t = np.arange(len(scores))
    shown = min(values.shape[1], 8)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for j in range(shown):
        v = values[:, j]
        if shown > 1:
            span = np.ptp(v)
            v = (v - v.min()) / (span if span > 0 else 1.0) + j * 1.1  # stacked, one band per column
        top.plot(t, v, lw=0.8, label=(columns[j] if columns else f"col{j}"))
        top.scatter(t[flags], v[flags], s=6, color="red", alpha=0.7, zorder=3, label="flagged" if j == 0 else None)
    top.set_ylabel("value" if shown == 1 else "value (scaled, stacked)")
    top.legend(loc="upper left", fontsize=7, ncol=min(shown + 1, 5))
    if title:
        top.set_title(title)
    bottom.plot(t, scores, lw=0.8, color="black", label="anomaly score")
    bottom.axhline(threshold, color="red", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    if np.all(np.asarray(scores) > 0):
        bottom.set_yscale("log")
    bottom.set_xlabel("time step" if shown else "row")
    bottom.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
