"""Pictures of learned features: first-layer filters as an image grid
(:func:`plot_filters`) and a 2-D map of codes coloured by label (:func:`plot_codes`).

matplotlib (and scikit-learn for the map) are imported inside the functions, so this
module loads without them. PNGs are written atomically.

Example:
    >>> import numpy as np
from numpy.typing import ArrayLike
    >>> from daekit.apps.features_plot import filter_grid
    >>> filter_grid(np.random.default_rng(0).random((6, 4, 4))).shape
    (11, 16)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .features import _sklearn

if TYPE_CHECKING:
    from .features import DAEFeatureExtractor

__all__ = ["filter_grid", "plot_filters", "plot_codes"]


def _figure_tools() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'daekit[plot]'.") from None
    return Figure, FigureCanvasAgg


def filter_grid(filters: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile filters into one image, each scaled to its own [0, 1] range.

    Args:
        filters: ``(K, H, W)`` (or ``(K, C, H, W)``, shown by their channel mean).
        columns: filters per row (default: about square).
        pad: pixels of gap between filters.

    Returns:
        A 2-D array on [0, 1].
    """
    f = np.asarray(filters, dtype=np.float64)
    if f.ndim == 4:
        f = f.mean(axis=1)
    if f.ndim != 3 or len(f) == 0:
        raise ValueError(f"filters must have shape (K, H, W), got {f.shape}.")
    k, h, w = f.shape
    lo, hi = f.reshape(k, -1).min(1), f.reshape(k, -1).max(1)
    f = (f - lo[:, None, None]) / np.where(hi > lo, hi - lo, 1.0)[:, None, None]
    cols = columns or int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad))
    for i in range(k):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = f[i]
    return grid


def plot_filters(
    extractor: DAEFeatureExtractor, path: str | os.PathLike, max_filters: int = 100, columns: int | None = None
) -> Path:
    """Save the first-layer filters of a fitted extractor as a grid PNG.

    With masking noise and sigmoid units these are the stroke and blob detectors of
    Vincent et al. (2010); without noise they look like noise.

    Args:
        extractor: a fitted ``DAEFeatureExtractor``.
        path: the PNG to write (atomically).
        max_filters: show the first this many units.
        columns: filters per row.

    Returns:
        The path written.
    """
    Figure, Canvas = _figure_tools()
    grid = filter_grid(extractor.filters()[:max_filters], columns)
    scale = max(2, int(600 / max(grid.shape)))
    fig = Figure(figsize=(grid.shape[1] * scale / 100, grid.shape[0] * scale / 100), dpi=100)
    canvas = Canvas(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.axis("off")
    return _save_figure(fig, canvas, path)


def plot_codes(
    codes: np.ndarray,
    labels: ArrayLike,
    path: str | os.PathLike,
    method: str = "pca",
    title: str | None = None,
    random_state: int = 0,
) -> Path:
    """Save a 2-D map of codes (PCA or t-SNE), one dot per row, coloured by label.

    Args:
        codes: ``(N, D)`` features, e.g. ``extractor.transform(X)``.
        labels: ``(N,)`` labels (any values).
        path: the PNG to write (atomically).
        method: ``"pca"`` (fast) or ``"tsne"`` (clusters, slower; keep N to a few thousand).
        title: plot title.
        random_state: seed of t-SNE.

    Returns:
        The path written.
    """
    _sklearn("plot_codes needs")
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise ValueError(f"codes {codes.shape} and labels {labels.shape} must be (N, D) and (N,) with the same N.")
    if len(codes) < 3:
        raise ValueError("a map of codes needs at least 3 rows.")
    if method == "pca":
        from sklearn.decomposition import PCA

        xy = (
            PCA(n_components=2, random_state=random_state).fit_transform(codes)
            if codes.shape[1] > 1
            else np.column_stack([codes[:, 0], np.zeros(len(codes))])
        )
    elif method == "tsne":
        from sklearn.manifold import TSNE

        xy = TSNE(
            n_components=2, init="pca", random_state=random_state, perplexity=min(30.0, (len(codes) - 1) / 3)
        ).fit_transform(codes)
    else:
        raise ValueError(f"method={method!r} is not valid: use 'pca' or 'tsne'.")
    Figure, Canvas = _figure_tools()
    fig = Figure(figsize=(6.5, 5.5), dpi=100)
    canvas = Canvas(fig)
    ax = fig.add_subplot()
    classes = np.unique(labels)
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for i, label in enumerate(classes):
        keep = labels == label
        ax.scatter(xy[keep, 0], xy[keep, 1], s=4, alpha=0.6, color=cmap(i % cmap.N), label=str(label))
    ax.legend(markerscale=3, fontsize=8, loc="best", title="label")
    shown = {"pca": "PCA", "tsne": "t-SNE"}[method]
    ax.set_xlabel(f"{shown} 1")
    ax.set_ylabel(f"{shown} 2")
    ax.set_title(title or f"codes ({codes.shape[1]}-D) by label, {shown}")
    fig.tight_layout()
    return _save_figure(fig, canvas, path)


def _save_figure(fig: Any, canvas: Any, path: str | os.PathLike) -> Path:
    import io

    from ..io import atomic_write_bytes, check_output_file

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = check_output_file(path)  # a file where a folder should be is named, not "no such folder"
    if path.parent and not path.parent.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path.parent))
    atomic_write_bytes(path, buf.getvalue())
    return path
