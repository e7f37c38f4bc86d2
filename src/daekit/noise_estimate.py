"""Estimate how noisy real data is, before choosing what a DAE should learn to undo.

``estimate(x, kind=...)`` answers, for each kind of data:

* ``"image"``: the effective σ of the noise, its RMS on the 0–255 scale (one float for
  gray, one per channel for colour), and whether it is spatially correlated (the
  ``correlated`` attribute of the :class:`ImageNoiseLevel` float returned). For white noise
  the default method is the PCA estimator
  of Chen, Zhu & Heng (ICCV 2015): the covariance of small patches has a few large
  eigenvalues carried by the image's structure and many small ones that are pure noise;
  σ² is the mean of the smallest eigenvalues, taken over the largest tail whose mean
  equals its median (a noise-only tail has no outliers). Unlike the classic median
  absolute deviation of the finest diagonal wavelet band (``method="mad"``, Donoho
  1995), texture does not leak into it. Measured on Set12 in ``benchmarks/noise.py``.
  Real camera noise is spatially correlated (demosaicking, in-camera noise reduction,
  JPEG) and reads several times too low that way; the same estimator on 2 × 2 polyphase
  sub-images tells it apart, and its RMS is read on 3 × 3 sub-images, where neighbouring
  pixels' noise no longer correlates (``benchmarks/images_real.py`` measures it on real pairs).
* ``"audio"``: the noise floor (RMS and dBFS) from the quietest frames and the SNR of the
  whole signal against it.
* ``"table"``: a robust scale per feature (1.4826 × MAD) and the share of missing values.
* ``"series"``: the robust scale of the noise per channel from first differences (a
  slow trend cancels), and the share of missing values.

Constant images, digital silence and constant columns give an answer of zero noise and
a ``message`` saying so ("no noise detected"), never NaN.

Example:
    >>> import numpy as np
    >>> from daekit.noise_estimate import estimate
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 255, 128), (128, 1))
    >>> round(estimate(clean + 20 * rng.standard_normal(clean.shape), kind="image"))
    20
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .noise_estimate_image import ImageNoiseLevel, ImageNoiseLevels, polyphase

# Audio, tables and series are estimated in a module of their own; their names stay importable here.
from .noise_estimate_signals import (
    NO_NOISE,
    AudioNoise,
    TableNoise,
    _as_numpy,
    estimate_audio,
    estimate_series,
    estimate_table,
)
from .noise_estimate_signals import _min_statistics_bias as _min_statistics_bias
from .noise_estimate_signals import _robust_scale as _robust_scale
from .noise_estimate_signals import _summary as _summary
from .noise_estimate_signals import _table as _table

__all__ = [
    "estimate",
    "estimate_image",
    "ImageNoiseLevel",
    "ImageNoiseLevels",
    "estimate_audio",
    "estimate_table",
    "estimate_series",
    "estimate_file",
    "AudioNoise",
    "TableNoise",
    "NO_NOISE",
    "KINDS",
]

KINDS = ("image", "audio", "table", "series")
# Below this σ (on 0–255) an image is called noise-free: it is under the σ≈0.29 of 8-bit
# quantisation, so nothing a denoiser could remove.
IMAGE_NOISE_FLOOR = 0.25
# Noise is called spatially correlated when σ on the 2×2 polyphase sub-images exceeds the
# full-resolution σ by this factor. White noise reads the same on both (texture lifts the
# sub-images' reading a little: up to ~1.3 at σ 2 on BSD68 weak-texture patches); real
# camera noise reads 2–10 times higher.
CORRELATED_RATIO = 1.5
# Correlated noise's RMS is read on the s×s polyphase sub-images with s = 3 (patches of 5):
# chosen on the PolyU dev pairs only (s = 2 read 0.8 of the residual RMS, 3: 1.08, 4: 1.31);
# Nam and SIDD are held out (see benchmarks/images_real.py).
CORRELATED_STRIDE = 3
CORRELATED_PATCH = 5
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
TABLE_EXTENSIONS = (".csv", ".npy", ".npz", ".tsv")


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def estimate(x: Any, kind: str = "image", **options: Any) -> Any:
    """Estimate the noise in ``x``.

    Args:
        x: the data: an array or tensor, or a path to a file (image, audio, csv/npy/npz).
        kind: ``"image"``, ``"audio"``, ``"table"`` or ``"series"``.
        **options: passed to the matching ``estimate_<kind>`` function (e.g.
            ``method="mad"`` for images, ``sample_rate=8000`` for audio).

    Returns:
        image: the effective σ on 0–255, a float (gray, :class:`ImageNoiseLevel`) or a float
        array ``(C,)`` (colour, :class:`ImageNoiseLevels`), with ``.correlated`` and ``.message``;
        audio: :class:`AudioNoise`; table/series: :class:`TableNoise`.

    Example:
        >>> sigma = estimate(noisy_gray, kind="image")            # doctest: +SKIP
        >>> estimate(wave, kind="audio", sample_rate=8000).snr_db   # doctest: +SKIP
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not valid: use one of {', '.join(KINDS)}.")
    if isinstance(x, (str, os.PathLike)):
        return estimate_file(x, kind=kind, **options)
    estimators: dict[str, Callable[..., Any]] = {
        "image": estimate_image,
        "audio": estimate_audio,
        "table": estimate_table,
        "series": estimate_series,
    }
    return estimators[kind](x, **options)


# ---------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------


def estimate_image(
    image: Any,
    method: str = "pca",
    data_range: float | None = None,
    channel_axis: int | None = None,
    patch_size: int = 7,
    correlated: bool | None = None,
) -> ImageNoiseLevel | ImageNoiseLevels:
    """The effective σ of an image's noise (its RMS on the 0–255 scale), white or correlated.

    White noise is estimated at full resolution (``method``). With ``method="pca"`` the
    same estimator also reads the 2 × 2 polyphase sub-images (every other pixel in both
    directions): where they read over 1.5 times higher, the noise is spatially correlated,
    as real camera noise is after demosaicking and JPEG, and its RMS is then read from the
    covariance of all 5 × 5 patches of the 3 × 3 sub-images, whose neighbours are three
    pixels apart and so carry nearly independent noise. That RMS includes the stronger
    noise in-camera processing leaves near edges; on very textured photos it reads high.

    Args:
        image: ``(H, W)`` gray, or colour ``(H, W, C)`` / ``(C, H, W)`` with C ≤ 4, as a
            numpy array or torch tensor; ``(1, C, H, W)`` is accepted too.
        method: ``"pca"`` (Chen et al. 2015; robust to texture) or ``"mad"`` (median
            absolute deviation of the finest diagonal Haar band; fast, but texture makes
            it overestimate).
        data_range: what the image's white is: 255 for 8-bit, 1.0 for float images on
            [0, 1]. ``None`` guesses: 255 for uint8, 65535 for uint16, and for floats
            1.0 when 99 % of the values lie within [-0.5, 1.5], else 255.
        channel_axis: where the colour channels are; ``None`` guesses (the axis of size
            ≤ 4 at either end).
        patch_size: side of the square patches of the PCA method.
        correlated: None looks for correlated noise (``method="pca"`` only); False
            assumes white noise (the white-noise estimate alone, as before); True always
            reads the RMS on the sub-images.

    Returns:
        :class:`ImageNoiseLevel`, a float σ, for a gray image; :class:`ImageNoiseLevels`,
        a float array ``(C,)``, for colour; 0.0 where the image (or channel) carries no
        measurable noise. Both also carry ``sigma_white``, ``correlated``, ``scale_ratio``
        and ``message``.

    Shape:
        image: ``(H, W)``, ``(H, W, C)``, ``(C, H, W)`` or ``(1, C, H, W)``.

    Example:
        >>> img = np.full((64, 64), 128.0) + 10 * np.random.default_rng(0).standard_normal((64, 64))
        >>> 9 < estimate_image(img) < 11
        True
    """
    if method not in ("pca", "mad"):
        raise ValueError(f"method={method!r} is not valid: use 'pca' or 'mad'.")
    if correlated not in (None, True, False):
        raise ValueError(f"correlated={correlated!r} is not valid: use None (detect), True or False.")
    arr = _as_numpy(image, "image")
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"an image must have shape (H, W), (H, W, C) or (C, H, W); got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the image holds NaN or infinite values; noise cannot be estimated.")
    scale = 255.0 / _data_range(arr, data_range)
    arr = arr.astype(np.float64)
    if arr.ndim == 2:
        return _level_gray(arr, method, patch_size, scale, correlated)
    axis = _channel_axis(arr.shape, channel_axis)
    channels = np.moveaxis(arr, axis, 0)
    return ImageNoiseLevels([_level_gray(c, method, patch_size, scale, correlated) for c in channels])


def _level_gray(
    img: np.ndarray, method: str, patch_size: int, scale: float, correlated: bool | None
) -> ImageNoiseLevel:
    white = _above_floor(_sigma_gray(img, method, patch_size) * scale)
    s, p = CORRELATED_STRIDE, CORRELATED_PATCH
    # Sub-images too small for their own patches (or a constant image) keep the white estimate.
    small = min(img.shape) < max(2 * s * p, 4 * patch_size)
    if correlated is False or (correlated is None and method != "pca") or small or np.ptp(img) == 0:
        return ImageNoiseLevel(white, white, False, math.nan)
    coarse = float(np.mean([_sigma_pca(sub, patch_size) for sub in polyphase(img, 2)])) * scale
    ratio = coarse / white if white > 0 else math.inf
    # No white noise at all is no evidence against correlated noise: in-camera noise reduction
    # can leave flat areas clean at both scales while the rest of the photo is noisy.
    if correlated is None and not ratio > CORRELATED_RATIO:
        return ImageNoiseLevel(white, white, False, ratio)
    return ImageNoiseLevel(_above_floor(_sigma_polyphase(img, s, p) * scale), white, True, ratio)


def _sigma_polyphase(img: np.ndarray, s: int, p: int) -> float:
    """σ from the covariance tail of all p×p patches of the s×s polyphase sub-images, pooled.

    No weak-texture selection here: camera noise is weaker in flat areas (in-camera noise
    reduction, JPEG) than near edges, and its RMS is over the whole image.
    """
    subs = polyphase(img, s)
    h, w = subs[0].shape
    stride = max(1, int(math.sqrt(len(subs) * (h - p + 1) * (w - p + 1) / 40_000)))
    views = [np.lib.stride_tricks.sliding_window_view(u, (p, p))[::stride, ::stride] for u in subs]
    return _tail_sigma(np.concatenate([v.reshape(-1, p * p) for v in views]))


def _data_range(arr: np.ndarray, data_range: float | None) -> float:
    if data_range is not None:
        if not data_range > 0:
            raise ValueError(f"data_range={data_range!r} must be positive (255 for 8-bit, 1.0 for [0, 1]).")
        return float(data_range)
    if arr.dtype == np.uint8 or arr.dtype == bool:
        return 255.0
    if arr.dtype == np.uint16:
        return 65535.0
    lo, hi = np.nanpercentile(arr, [0.5, 99.5])
    return 1.0 if (lo >= -0.5 and hi <= 1.5) else 255.0


def _channel_axis(shape: tuple, channel_axis: int | None) -> int:
    if channel_axis is not None:
        return channel_axis
    if shape[-1] <= 4:
        return -1
    if shape[0] <= 4:
        return 0
    raise ValueError(f"cannot tell where the colour channels are in shape {shape}: pass channel_axis.")


def _sigma_gray(img: np.ndarray, method: str, patch_size: int) -> float:
    h, w = img.shape
    if min(h, w) < 2 * patch_size:
        raise ValueError(
            f"the image is {h}×{w}; noise estimation needs at least {2 * patch_size}×{2 * patch_size} pixels."
        )
    if np.ptp(img) == 0:
        return 0.0
    return _sigma_mad(img) if method == "mad" else _sigma_pca(img, patch_size)


def _above_floor(sigma: float) -> float:
    # sigma is on 0–255 here; under the floor the image is called noise-free.
    return float(sigma) if sigma >= IMAGE_NOISE_FLOOR else 0.0


def _sigma_mad(img: np.ndarray) -> float:
    """Donoho's MAD of the finest diagonal Haar detail band (orthonormal: noise keeps σ)."""
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    a, b = img[0:h:2, 0:w:2], img[0:h:2, 1:w:2]
    c, d = img[1:h:2, 0:w:2], img[1:h:2, 1:w:2]
    hh = (a - b - c + d) / 2.0
    return float(np.median(np.abs(hh)) / 0.6745)


def _sigma_pca(img: np.ndarray, patch_size: int, iterations: int = 5) -> float:
    """Chen, Zhu & Heng (2015) on the weak-texture patches of Liu, Tanaka & Okutomi (2013).

    Start from Chen's estimate over all patches; then keep only the patches whose gradient
    energy pure noise of that σ would reach 99 % of the time (so textured patches drop
    out), estimate again on those, and repeat until σ settles.
    """
    p = patch_size
    h, w = img.shape
    # About 40k patches are plenty for a p²×p² covariance; a stride keeps big images cheap.
    stride = max(1, int(math.sqrt((h - p + 1) * (w - p + 1) / 40_000)))
    patches = np.lib.stride_tricks.sliding_window_view(img, (p, p))[::stride, ::stride].reshape(-1, p * p)
    energy = _gradient_energy(img, p)[::stride, ::stride].reshape(-1)
    q99 = _noise_energy_quantile(p)
    sigma = _tail_sigma(patches)
    for _ in range(iterations):
        keep = energy <= q99 * sigma**2
        if keep.sum() < 4 * p * p:  # too few flat patches to trust: keep what we have
            break
        new = _tail_sigma(patches[keep])
        if abs(new - sigma) <= 1e-3 * max(sigma, 1e-12):
            sigma = new
            break
        sigma = new
    return sigma


def _tail_sigma(patches: np.ndarray) -> float:
    """σ from the largest tail of the covariance spectrum whose mean is at most its median."""
    centred = patches - patches.mean(axis=0)
    cov = centred.T @ centred / len(centred)
    eig = np.clip(np.linalg.eigvalsh(cov), 0, None)  # ascending
    # A noise-only tail is symmetric enough that mean ≈ median; structure adds large
    # eigenvalues that pull the mean up. Drop the largest until the mean is no longer above.
    for k in range(len(eig), 0, -1):
        tail = eig[:k]
        tau = tail.mean()
        if tau <= np.median(tail):
            return float(math.sqrt(tau))
    return float(math.sqrt(eig[0]))


def _gradient_energy(img: np.ndarray, p: int) -> np.ndarray:
    """Sum of squared horizontal and vertical differences inside each p×p window."""
    dh = np.zeros_like(img)
    dv = np.zeros_like(img)
    dh[:, :-1] = (img[:, 1:] - img[:, :-1]) ** 2  # dh[i, j]: pair (j, j+1)
    dv[:-1, :] = (img[1:, :] - img[:-1, :]) ** 2
    # Only pairs fully inside the window count: p rows × (p-1) columns, and vice versa.
    return _box_sum(dh, p, p - 1, p) + _box_sum(dv, p - 1, p, p)


def _box_sum(a: np.ndarray, rows: int, cols: int, p: int) -> np.ndarray:
    """``out[i, j] = a[i:i+rows, j:j+cols].sum()`` for every p×p window's top-left (i, j)."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    c[1:, 1:] = a.cumsum(0).cumsum(1)
    oh, ow = a.shape[0] - p + 1, a.shape[1] - p + 1
    return c[rows : rows + oh, cols : cols + ow] - c[:oh, cols : cols + ow] - c[rows : rows + oh, :ow] + c[:oh, :ow]


_QUANTILE_CACHE: dict[int, float] = {}


def _noise_energy_quantile(p: int) -> float:
    """99th percentile of a p×p window's gradient energy under unit white noise.

    Liu et al. derive it from a Gamma approximation; a fixed-seed simulation gives the
    exact value for this statistic and costs a few milliseconds once.
    """
    if p not in _QUANTILE_CACHE:
        noise = np.random.default_rng(12345).standard_normal((256, 256))
        energy = _gradient_energy(noise, p)
        _QUANTILE_CACHE[p] = float(np.quantile(energy, 0.99))
    return _QUANTILE_CACHE[p]


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def guess_kind(path: str | os.PathLike) -> str:
    """The kind of data a file holds, from its extension."""
    if Path(path).is_dir():  # a folder's name has no extension to go by, and that is not the problem
        raise ValueError(f"{path}: is a folder; give the image, audio or table files in it.")
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in TABLE_EXTENSIONS:
        return "table"
    accepted = ", ".join(IMAGE_EXTENSIONS + AUDIO_EXTENSIONS + TABLE_EXTENSIONS)
    raise ValueError(f"{path}: cannot tell what kind of data '{ext or 'no extension'}' is; accepted: {accepted}.")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as an array ``(H, W)`` or ``(H, W, C)`` in its own dtype, alpha dropped.

    Reads through ``daekit.data.image.read_image`` (Pillow; EXIF orientation, bomb guard).
    """
    from .data.image import read_image as _read

    arr = _read(path)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):  # alpha is not image content
        arr = arr[..., :-1]
        if arr.shape[2] == 1:
            arr = arr[..., 0]
    return arr


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """An audio file as ``(mono float array (T,), sample_rate)`` via ``daekit.data.audio``."""
    from .data.audio import load_audio

    return load_audio(path, mono=True)


def read_table(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """A numeric table from ``.csv``/``.tsv`` (a header row is skipped), ``.npy`` or ``.npz``.

    For ``.npz`` the array is ``key``, else the first of ``X``, ``x``, ``x_train``,
    ``data``, else the only array in the file.
    """
    from .data.arrays import load_numpy
    from .data.files import check_input_file, dtype_words, undecodable_sentence

    path = Path(path)
    check_input_file(path, "a table (.csv, .tsv, .npy or .npz)")
    ext = path.suffix.lower()
    if ext in (".npy", ".npz"):  # daekit's reader: one sentence for every damaged or foreign file
        arr = load_numpy(path, key, default_keys=("X", "x", "x_train", "data"))
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{path}: holds {dtype_words(arr.dtype)}, not real numbers; a numeric table is expected.")
        return arr
    delimiter = "\t" if ext == ".tsv" else ","
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise ValueError(undecodable_sentence(path, exc, "a table of numbers")) from None
    header = any(c.isalpha() and c not in "eE" for c in first.replace("nan", "").replace("NaN", ""))
    try:
        # Cells that are not numbers become NaN here on purpose: estimate_table reports their share.
        arr = np.genfromtxt(path, delimiter=delimiter, skip_header=1 if header else 0, dtype=np.float64, ndmin=2)
    except UnicodeDecodeError as exc:
        raise ValueError(undecodable_sentence(path, exc, "a table of numbers")) from None
    except ValueError as exc:  # numpy lists every ragged line over several lines of its own
        ragged = re.search(r"Line #(\d+) \(got (\d+) columns instead of (\d+)\)", str(exc))
        if ragged is None:
            raise ValueError(f"{path}: is not a readable table of numbers.") from None
        line, got, want = ragged.groups()
        raise ValueError(f"{path}: line {line} has {got} fields but the first row has {want}.") from None
    if arr.size == 0:
        raise ValueError(f"{path}: has no data rows.")
    return arr


def estimate_file(path: str | os.PathLike, kind: str | None = None, **options: Any) -> Any:
    """Read a file and estimate its noise; ``kind`` defaults to a guess from the extension.

    Returns what :func:`estimate` returns for that kind.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    kind = kind or guess_kind(path)
    if kind == "image":
        return estimate_image(read_image(path), **options)
    if kind == "audio":
        wave, rate = read_audio(path)
        options.setdefault("sample_rate", rate)
        return estimate_audio(wave, **options)
    key = options.pop("key", None)
    data = read_table(path, key=key)
    return estimate_table(data, **options) if kind == "table" else estimate_series(data, **options)
