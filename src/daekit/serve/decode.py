"""Uploads in memory to arrays and back: images, audio, tables. Nothing touches the disk.

Images and recordings go through the readers the CLI and the Python API use
(:mod:`daekit.data.image`, :mod:`daekit.data.audio`), so all three accept and refuse alike.

Every reader checks the header's claims (pixels, duration, sample rate, channels) against
:class:`~daekit.serve.limits.Limits` before it decodes, and raises
:class:`~daekit.serve.limits.ClientError` with a status and one sentence: 413 for too
big, 415 for a format it does not take, 400 for a broken or lying file.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .limits import ClientError, Limits

__all__ = [
    "decode_image",
    "encode_png",
    "decode_audio",
    "encode_wav",
    "parse_table",
    "IMAGE_TYPES",
    "AUDIO_TYPES",
    "TABLE_TYPES",
]

#: Content types a client may declare for each kind of upload (besides a generic
#: ``application/octet-stream`` or none, when the bytes themselves decide).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/x-ms-bmp", "image/tiff", "image/webp")
AUDIO_TYPES = (
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/vnd.wave",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "application/ogg",
)
TABLE_TYPES = ("text/csv", "text/plain", "application/json", "application/vnd.ms-excel")
GENERIC_TYPES = ("", "application/octet-stream")

_IMAGE_FORMATS = {"PNG", "JPEG", "BMP", "TIFF", "WEBP"}
#: Tighter than the shared reader's rules, so that one job's memory stays bounded: a
#: 20 MB FLAC of near-silence can claim minutes of many channels at a high rate.
_MAX_CHANNELS = 8
_MAX_SAMPLE_RATE = 192_000
_RECORDING = "the recording"


def check_declared_type(declared: str | None, accepted: tuple[str, ...], what: str) -> None:
    """415 when the client says the upload is something we do not take (e.g. text/html)."""
    kind = (declared or "").split(";")[0].strip().lower()
    if kind not in accepted and kind not in GENERIC_TYPES:
        raise ClientError(
            415, f"the upload is declared as '{kind}', which is not {what}; accepted: {', '.join(accepted)}."
        )


# ------------------------------------------------------------------------------ images


def decode_image(data: bytes, limits: Limits) -> np.ndarray:
    """Image bytes → ``uint8``/``uint16`` array ``(H, W[, C])``, EXIF orientation applied."""
    from PIL import Image, ImageOps

    from ..data.image import _to_array

    if not data:
        raise ClientError(400, "the upload is empty; send a PNG, JPEG, BMP, TIFF or WebP image.")
    deep = _decode_deep(data, limits)
    if deep is not None:
        return deep
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ClientError(
            413,
            f"the image claims more pixels than the limit of {limits.max_pixels:,} (a possible decompression bomb).",
        ) from None
    except Exception:  # UnidentifiedImageError and friends: not an image at all
        raise ClientError(
            415, "the upload is not an image this server reads; accepted: PNG, JPEG, BMP, TIFF, WebP."
        ) from None
    with im:
        if im.format not in _IMAGE_FORMATS:
            raise ClientError(
                415, f"{im.format or 'this'} images are not accepted; accepted: PNG, JPEG, BMP, TIFF, WebP."
            )
        _check_image_size(im.size[0], im.size[1], limits)
        try:
            im.load()
            upright = ImageOps.exif_transpose(im)
            return _to_array(upright, "the uploaded image")
        except ValueError as e:
            raise ClientError(415, str(e)) from None
        except Exception as e:  # truncated or corrupt pixel data
            raise ClientError(
                400, f"the image is corrupt or truncated ({str(e).strip() or type(e).__name__})."
            ) from None


def _check_image_size(w: int, h: int, limits: Limits) -> None:
    if w * h > limits.max_pixels:
        raise ClientError(
            413,
            f"the image claims {w}×{h} = {w * h:,} pixels, over the limit of "
            f"{limits.max_pixels:,} (a possible decompression bomb).",
        )
    if w < 2 or h < 2:
        raise ClientError(400, f"the image is {w}×{h} pixels; at least 2×2 is needed.")


def _decode_deep(data: bytes, limits: Limits) -> np.ndarray | None:
    """A 16-bit colour PNG or TIFF through the reader ``read_image`` uses (Pillow would cut
    it to 8 bits); None for every other upload."""
    from ..data.image16 import decode_deep, deep_format

    found = deep_format(data)
    if found is None:
        return None
    _check_image_size(found[1], found[2], limits)
    try:
        return decode_deep(data, "the uploaded image")
    except ValueError as e:
        raise ClientError(400, str(e)) from None


def encode_png(arr: np.ndarray) -> bytes:
    """An image array → PNG bytes at the array's bit depth (8 or 16, gray or colour)."""
    from PIL import Image

    from ..data.image16 import encode_deep

    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype == np.uint16 and arr.ndim == 3:  # Pillow has no 16-bit colour mode
        return encode_deep(arr, "PNG", level=1)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# ------------------------------------------------------------------------------- audio


def decode_audio(data: bytes, limits: Limits) -> tuple[np.ndarray, int]:
    """Audio bytes (WAV, FLAC, OGG) → ``(channels, samples)`` float32 and the sample rate.

    The reader the CLI and the Python API use (:func:`daekit.data.audio.load_audio`: sample
    rate, channels, WAV chunk sizes, truncation, emptiness, NaN), with the server's limits
    on top: at most ``_MAX_CHANNELS`` channels, ``_MAX_SAMPLE_RATE`` and ``limits.max_audio_seconds``, checked
    from the header before decoding and again while reading.
    """
    from ..data.audio import AudioTooLongError, audio_info, load_audio

    if not data:
        raise ClientError(400, "the upload is empty; send a WAV, FLAC or OGG recording.")
    if data[:4] not in (b"RIFF", b"RIFX", b"fLaC", b"OggS"):
        raise ClientError(415, "the upload is not a recording this server reads; accepted: WAV, FLAC, OGG.")
    upload = io.BytesIO(data)
    try:
        info = audio_info(upload, name=_RECORDING)
        if info.channels > _MAX_CHANNELS:
            raise ClientError(
                400, f"the recording has {info.channels} channels; this server takes 1 to {_MAX_CHANNELS}."
            )
        if info.sample_rate > _MAX_SAMPLE_RATE:
            raise ClientError(
                400, f"the recording is at {info.sample_rate:,} Hz; this server takes at most {_MAX_SAMPLE_RATE:,} Hz."
            )
        return load_audio(upload, mono=False, name=_RECORDING, max_seconds=limits.max_audio_seconds)
    except AudioTooLongError as e:
        raise ClientError(413, str(e)) from None
    except ValueError as e:
        raise ClientError(400, str(e)) from None


def encode_wav(wave: np.ndarray, sample_rate: int) -> bytes:
    """``(channels, samples)`` float → 16-bit PCM WAV bytes (plays in every browser)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wave, np.float32).T, -1.0, 1.0), int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ------------------------------------------------------------------------------ tables


def parse_table(data: bytes, kind: str, limits: Limits) -> tuple[np.ndarray, list[str], list[str] | None]:
    """CSV text or JSON rows → ``(X float64 (N, F), column names, index labels or None)``.

    CSV: an optional header row; a first column that is not numeric (a timestamp, an id)
    becomes the index labels. JSON: ``{"rows": [[...], ...], "columns": [...]}``, a list
    of rows, or a list of ``{column: value}`` objects.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClientError(400, "the table is not UTF-8 text.") from None
    if not text.strip():
        raise ClientError(400, "the table is empty.")
    if kind == "json":
        rows, columns = _json_rows(text)
        index = None
    else:
        rows, columns, index = _csv_rows(text, limits)
    if len(rows) > limits.max_rows:
        raise ClientError(413, f"the table has {len(rows):,} rows, over the limit of {limits.max_rows:,}.")
    width = len(rows[0]) if rows else 0
    if width == 0:
        raise ClientError(400, "the table has no rows with values.")
    if width > limits.max_features:
        raise ClientError(413, f"the table has {width} columns, over the limit of {limits.max_features}.")
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ClientError(400, f"row {i + 1} has {len(r)} values but the first row has {width}.")
    try:
        X = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise ClientError(400, "the table holds values that are not numbers.") from None
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise ClientError(400, f"the table holds a missing, NaN or infinite value (row {r + 1}, column {c + 1}).")
    columns = columns or [f"x{j}" for j in range(width)]
    if len(columns) != width:
        raise ClientError(400, f"{len(columns)} column names for {width} columns.")
    return X, [str(c) for c in columns], index


def _json_rows(text: str) -> tuple[list[list[float]], list[str] | None]:
    try:
        obj = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise ClientError(400, f"the JSON body is not valid JSON ({e.msg} at line {e.lineno}).") from None
    except RecursionError:
        raise ClientError(400, "the JSON body is nested too deeply; send rows of numbers.") from None
    columns = None
    if isinstance(obj, dict):
        columns = obj.get("columns")
        obj = obj.get("rows", obj.get("data"))
        if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
            raise ClientError(400, "'columns' must be a list of strings.")
    if not isinstance(obj, list) or not obj:
        raise ClientError(
            400,
            'send {"rows": [[...], ...]} (a non-empty list of rows), a list of rows, '
            "or a list of {column: value} objects.",
        )
    if all(isinstance(r, dict) for r in obj):
        columns = columns or list(obj[0].keys())
        try:
            obj = [[r[c] for c in columns] for r in obj]
        except KeyError as e:
            raise ClientError(400, f"a row object lacks the column {e.args[0]!r}.") from None
    elif all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in obj):
        obj = [[r] for r in obj]
    if not all(
        isinstance(r, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r) for r in obj
    ):
        raise ClientError(400, "every row must be a list of numbers.")
    return obj, columns


def _json_int(digits: str) -> float:
    # json's own int() refuses over 4,300 digits in words that name sys.set_int_max_str_digits,
    # and an int past float64's range would fail later as an OverflowError: refuse both here.
    value = float(digits)
    if not math.isfinite(value):
        raise ClientError(
            422, f"the JSON body holds an integer of {len(digits.lstrip('-')):,} digits, too large for a float64 value."
        )
    return value


def _is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell)) or cell.strip().lower() in ("nan", "inf", "-inf")
    except ValueError:
        return False


def _csv_rows(text: str, limits: Limits) -> tuple[list[list[float]], list[str] | None, list[str] | None]:
    first = text.lstrip().split("\n", 1)[0]
    delimiter = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for r in reader:
        if not any(c.strip() for c in r):
            continue
        rows.append([c.strip() for c in r])
        if len(rows) > limits.max_rows + 1:
            raise ClientError(413, f"the table has more than {limits.max_rows:,} rows, the limit.")
    if not rows:
        raise ClientError(400, "the table is empty.")
    header = None
    if not all(_is_number(c) for c in rows[0][1:] or rows[0]):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise ClientError(400, "the table has a header but no rows.")
    index = None
    if not all(_is_number(r[0]) for r in rows[:50] if r):
        index = [r[0] for r in rows]
        rows = [r[1:] for r in rows]
        header = header[1:] if header else None
    try:
        values = [[float(c) if c else math.nan for c in r] for r in rows]
    except ValueError:
        bad = next((i, c) for i, r in enumerate(rows) for c in r if c and not _is_number(c))
        raise ClientError(400, f"row {bad[0] + 1} holds {bad[1][:40]!r}, which is not a number.") from None
    return values, header, index
