"""Images in, clean arrays and patches out (Pillow is imported only where a file is read).

* :func:`read_image` / :func:`write_image`: PNG, JPEG, TIFF, BMP (anything Pillow opens);
  gray, gray+alpha, RGB, RGBA, palette; 8- or 16-bit (16-bit colour through
  :mod:`daekit.data.image16`, as Pillow would cut it to 8 bits); EXIF orientation applied; a
  decompression-bomb guard; atomic writes.
* :func:`list_images`: the image files of folders and file lists.
* :func:`load_tiles`: a folder of images as one ``uint8`` tensor of equal square tiles,
  small enough to live on the GPU, from which :func:`random_patches` cuts augmented
  training patches on the device (no data loader, no host round trip).
* :class:`PatchDataset`: the same random patches as a map-style ``Dataset`` for CPU
  pipelines and data-loader workers.

Nothing here adds noise (DESIGN.md): corruption happens on the device, batch by batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "IMAGE_EXTENSIONS",
    "read_image",
    "write_image",
    "to_float",
    "from_float",
    "list_images",
    "load_tiles",
    "random_patches",
    "augment8",
    "PatchDataset",
    "MAX_PIXELS",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: Refuse images above this many pixels (Pillow's own hard limit): a decompression bomb
#: (a tiny file that claims billions of pixels) is stopped before it is decoded.
MAX_PIXELS = 178_956_970


def _pil() -> tuple[Any, Any]:  # the PIL.Image and PIL.ImageOps modules, imported when first needed
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install 'daekit[image]'.") from None
    return Image, ImageOps


# --------------------------------------------------------------------------- files


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an array in its own bit depth, EXIF orientation applied.

    Args:
        path: a PNG, JPEG, TIFF or BMP file (anything Pillow can open).
        max_pixels: refuse images with more pixels than this (decompression bombs).

    Returns:
        ``uint8`` or ``uint16`` array: ``(H, W)`` gray, ``(H, W, 2)`` gray+alpha,
        ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA. Palette and bilevel images become RGB(A)
        or gray; CMYK and YCbCr become RGB; 16-bit images, gray or colour, stay ``uint16``.

    Raises:
        ValueError: one sentence naming the file when it is missing, empty, truncated,
            not an image, too large, or in a mode daekit does not handle.

    Example:
        >>> arr = read_image("photo.png")       # doctest: +SKIP
        >>> arr.shape, arr.dtype                # doctest: +SKIP
        ((321, 481, 3), dtype('uint8'))
    """
    Image, ImageOps = _pil()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes); expected a PNG, JPEG, TIFF or BMP image.")
    deep = _read_deep(path, max_pixels)
    if deep is not None:
        return deep
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # our own check below, with our own message
        with Image.open(path) as im:
            check_pixels(im.size[0], im.size[1], path, max_pixels)
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_array(im, path)
    except (ValueError, FileNotFoundError):
        raise
    except Image.UnidentifiedImageError:
        raise ValueError(f"{path} is not an image Pillow can read; accepted: PNG, JPEG, TIFF, BMP.") from None
    except (OSError, SyntaxError, EOFError) as e:  # truncated or corrupt data
        raise ValueError(f"{path} is corrupt or truncated ({str(e).strip() or type(e).__name__}).") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit


def check_pixels(width: int, height: int, name: Path | str, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse an image whose header claims more than ``max_pixels`` before it is decoded."""
    if width * height > max_pixels:
        raise ValueError(
            f"{name} claims {width}×{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(a possible decompression bomb); raise max_pixels if you trust the file."
        )


def _read_deep(path: Path, max_pixels: int) -> np.ndarray | None:
    """A 16-bit colour PNG or TIFF, which Pillow would cut to 8 bits; None for any other file."""
    from .image16 import decode_deep, deep_format

    with open(path, "rb") as f:
        magic = f.read(4)
        if magic not in (b"\x89PNG", b"II*\x00", b"MM\x00*"):
            return None
        data = magic + f.read()
    found = deep_format(data)
    if found is None:
        return None
    check_pixels(found[1], found[2], path, max_pixels)
    return decode_deep(data, str(path))


def _to_array(im: PILImage, path: Path | str) -> np.ndarray:
    # path only names the source in messages: a file, or e.g. "the uploaded image".
    mode = im.mode
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.uint16).copy()
    elif mode == "I":  # 32-bit integer: 16-bit PNGs arrive like this
        arr = np.asarray(im)
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f"{path} holds 32-bit integer pixels outside 0..65535; accepted: 8- or 16-bit images.")
        return arr.astype(np.uint16)
    elif mode == "F":
        raise ValueError(
            f"{path} holds 32-bit float pixels, which daekit does not read; accepted: 8- or 16-bit gray, RGB, RGBA."
        )
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        raise ValueError(
            f"{path} has image mode {im.mode!r}, which daekit does not handle; "
            "accepted: 8- or 16-bit gray, gray+alpha, RGB, RGBA, palette."
        )
    return np.asarray(im).copy()


def write_image(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Write a ``uint8``/``uint16`` array (layouts as :func:`read_image` returns) atomically.

    The format follows the suffix (``.png``, ``.tif``, ``.jpg``, ``.bmp``). 16-bit is
    kept in PNG and TIFF for every layout (gray, gray+alpha, RGB, RGBA); JPEG and BMP
    hold 8 bits only, so 16-bit pixels for them are refused with a clear sentence.
    """
    Image, _ = _pil()
    import io

    from ..io import atomic_write_bytes
    from .image16 import DEEP_FORMATS, encode_deep

    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}.get(
        path.suffix.lower()
    )
    if fmt is None:
        raise ValueError(f"cannot write {path}: unknown suffix; use .png, .tif, .jpg or .bmp.")
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ValueError(f"cannot write {path}: expected (H, W) or (H, W, 1-4) pixels, got shape {arr.shape}.")
    if arr.dtype == np.uint16 and fmt not in DEEP_FORMATS:
        raise ValueError(f"cannot write 16-bit {path}: use .png or .tif for 16-bit images.")
    if arr.dtype == np.uint16 and arr.ndim == 3:  # Pillow has no 16-bit colour mode
        atomic_write_bytes(path, encode_deep(arr, fmt))
        return path
    if arr.dtype == np.uint16:
        im = Image.fromarray(np.ascontiguousarray(arr))  # mode I;16
    elif arr.dtype == np.uint8:
        im = Image.fromarray(arr)
        if fmt == "JPEG" and im.mode in ("LA", "RGBA"):
            raise ValueError(f"cannot write {path}: JPEG has no alpha channel; use .png or .tif.")
    else:
        raise ValueError(f"cannot write {path}: pixels must be uint8 or uint16, got {arr.dtype}.")
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    atomic_write_bytes(path, buf.getvalue())  # creates the folders; refuses a bad path in one sentence
    return path


def to_float(arr: np.ndarray) -> np.ndarray:
    """``uint8``/``uint16`` pixels → ``float32`` on [0, 1] (by the type's full range)."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    raise ValueError(f"pixels must be uint8, uint16 or float, got {arr.dtype}.")


def from_float(x: np.ndarray, dtype: DTypeLike = np.uint8) -> np.ndarray:
    """``float`` on [0, 1] → ``uint8``/``uint16``, clipped and rounded; NaN or infinity
    (a damaged model's output) is refused rather than written as black or white pixels."""
    from ..io import check_finite_output

    check_finite_output(x)
    top = 255.0 if np.dtype(dtype) == np.uint8 else 65535.0
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * top), 0, top).astype(dtype)


def list_images(inputs: str | os.PathLike | Iterable[str | os.PathLike], recursive: bool = False) -> list[Path]:
    """Image files named by ``inputs``: files as given, folders expanded (sorted).

    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = p.rglob("*") if recursive else p.iterdir()
            out += sorted(f for f in found if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist.")
    return out


# --------------------------------------------------------------------------- training patches


def _as_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W[, C])`` any layout → ``(channels, H, W)`` float32 on [0, 1]; alpha dropped;
    gray repeated for RGB; RGB → gray by ITU-R 601 luma."""
    x = to_float(arr)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[2] in (2, 4):  # drop alpha
        x = x[..., :-1]
    if channels == 3 and x.shape[2] == 1:
        x = np.repeat(x, 3, axis=2)
    elif channels == 1 and x.shape[2] == 3:
        x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def _shrink(arr: np.ndarray, max_side: int) -> np.ndarray:
    """Scale an image array as :func:`read_image` gives it down by area averaging (PIL's
    box filter) so that its longer side is ``max_side``; alpha is dropped first, so it
    cannot bleed into the colours. Smaller images are returned as they are."""
    h, w = arr.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return arr
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        arr = arr[..., :-1]
    Image, _ = _pil()
    size = (round(w * f), round(h * f))
    if arr.dtype == np.uint8:  # L or RGB, resized in 8 bits
        return np.asarray(
            Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr).resize(
                size, Image.Resampling.BOX
            )
        )
    planes = arr.reshape(h, w, -1).astype(np.float32)  # 16-bit: plane by plane in float
    out = [
        np.asarray(Image.fromarray(planes[..., i], mode="F").resize(size, Image.Resampling.BOX))
        for i in range(planes.shape[2])
    ]
    out = np.rint(np.stack(out, -1)).clip(0, 65535).astype(arr.dtype)
    return out[..., 0] if arr.ndim == 2 else out


def load_tiles(
    inputs: str | os.PathLike | Iterable[str | os.PathLike],
    tile: int = 128,
    channels: int = 1,
    recursive: bool = False,
    max_tiles_per_image: int | None = None,
    max_side: int | None = None,
) -> torch.Tensor:
    """Cut every image into non-overlapping ``tile``×``tile`` squares, as one uint8 tensor.

    A compact, equal-shape bank (train400: 400 tiles of 180×180 = 13 MB) that can live on
    the GPU, so :func:`random_patches` samples training patches there. Images smaller
    than ``tile`` are skipped; 16-bit images are reduced to 8-bit for the bank.

    Args:
        inputs: folder(s) or file(s) (see :func:`list_images`).
        tile: tile side in pixels.
        channels: 1 (gray; colour converted to luma) or 3 (RGB; gray repeated).
        max_tiles_per_image: keep at most this many tiles per image (evenly spread), so a
            few large photos do not drown many small ones.
        max_side: first scale each larger image down (area averaging) so its longer side
            is this many pixels: closer to the scale of the usual test photos, and what
            noise or JPEG blockiness a large photo holds is averaged away.

    Returns:
        ``uint8`` tensor of shape ``(N, channels, tile, tile)``.
    """
    tiles: list[np.ndarray] = []
    given = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    paths = list_images(given, recursive)
    named = ", ".join(str(i) for i in given)
    if not paths:  # an empty folder is not a tile-size problem
        raise ValueError(f"{named}: no image files (PNG, JPEG, TIFF, BMP) to train on.")
    for path in paths:
        arr = read_image(path)
        x = _as_channels(_shrink(arr, max_side) if max_side else arr, channels)
        h, w = x.shape[1:]
        ys, xs = range(0, h - tile + 1, tile), range(0, w - tile + 1, tile)
        cuts = [(y, x0) for y in ys for x0 in xs]
        if max_tiles_per_image and len(cuts) > max_tiles_per_image:
            cuts = [cuts[i] for i in np.linspace(0, len(cuts) - 1, max_tiles_per_image).astype(int)]
        tiles += [x[:, y : y + tile, x0 : x0 + tile] for y, x0 in cuts]
    if not tiles:
        raise ValueError(f"no image in {named} is at least {tile}×{tile} pixels; lower the tile size (--tile).")
    return torch.from_numpy(from_float(np.stack(tiles)))


def augment8(x: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
    """Apply one of the 8 flips/rotations of the square to each sample.

    Args:
        x: ``(N, C, P, P)`` square patches.
        which: ``(N,)`` integers in 0..7 (bit 0: transpose, bit 1: flip rows, bit 2: flip columns).
    """
    which = which.to(x.device).view(-1, 1, 1, 1)
    x = torch.where((which & 1).bool(), x.transpose(-1, -2), x)
    x = torch.where((which & 2).bool(), x.flip(-2), x)
    return torch.where((which & 4).bool(), x.flip(-1), x)


def random_patches(
    tiles: torch.Tensor, n: int, size: int, generator: torch.Generator | None = None, augment: bool = True
) -> torch.Tensor:
    """``n`` random ``size``×``size`` crops of random tiles, 8-way augmented, on the tiles' device.

    Args:
        tiles: ``(N, C, T, T)`` bank from :func:`load_tiles` (uint8 or float).
        n: patches to draw.
        size: patch side (``<= T``).
        generator: a ``torch.Generator`` on the tiles' device, for reproducible draws.
        augment: apply a random flip/rotation of the 8 to each patch.

    Returns:
        ``(n, C, size, size)`` float32 on [0, 1] (uint8 banks are divided by 255).
    """
    count, c, th, tw = tiles.shape
    if size > min(th, tw):
        raise ValueError(f"patch size {size} is larger than the tiles ({th}×{tw}).")
    dev = tiles.device
    pick = torch.randint(count, (n,), device=dev, generator=generator)
    oy = torch.randint(th - size + 1, (n,), device=dev, generator=generator)
    ox = torch.randint(tw - size + 1, (n,), device=dev, generator=generator)
    ar = torch.arange(size, device=dev)
    rows = (oy[:, None] + ar)[:, :, None]  # (n, P, 1)
    cols = (ox[:, None] + ar)[:, None, :]  # (n, 1, P)
    # Advanced indices separated by a slice go first: result (n, P, P, C).
    x = tiles[pick[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    x = x.float() / 255.0 if tiles.dtype == torch.uint8 else x.float()
    if augment:
        x = augment8(x, torch.randint(8, (n,), device=dev, generator=generator))
    return x.contiguous()


class PatchDataset(torch.utils.data.Dataset):
    """Random training patches from a tile bank as a map-style ``Dataset`` (CPU pipelines).

    Item ``i`` is always the same patch for the same ``seed`` (reproducible, worker-safe).

    Args:
        tiles: ``(N, C, T, T)`` uint8 bank from :func:`load_tiles`.
        patch_size: side of the patches.
        length: patches per epoch.
        seed: base seed.
        augment: 8-way flips/rotations.

    Shape:
        item: ``(C, patch_size, patch_size)`` float32 on [0, 1].

    Example:
        >>> ds = PatchDataset(torch.zeros(4, 1, 64, 64, dtype=torch.uint8), patch_size=32, length=100)
        >>> ds[0].shape
        torch.Size([1, 32, 32])
    """

    def __init__(
        self, tiles: torch.Tensor, patch_size: int = 64, length: int = 10_000, seed: int = 0, augment: bool = True
    ):
        self.tiles, self.patch_size, self.length, self.seed, self.augment = tiles, patch_size, length, seed, augment

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(i))
        return random_patches(self.tiles, 1, self.patch_size, g, self.augment)[0]
