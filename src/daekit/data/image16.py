"""16-bit colour images (gray+alpha, RGB, RGBA at 16 bits a sample) in PNG and TIFF.

Pillow has no 16-bit multi-channel mode: it reads such files as 8-bit, quietly dropping the
low byte, or not at all, and it cannot write them. An image must keep its bit depth
(DESIGN.md), so these files are decoded and encoded here with zlib and NumPy; 16-bit gray
and everything 8-bit still go through Pillow in :mod:`daekit.data.image`.

* PNG: every filter type and Adam7 interlacing are read; chunk CRCs are checked; written
  with the Sub filter.
* TIFF: strips in any compression Pillow's libtiff decodes, chunky or planar, with or
  without horizontal prediction, are read by handing Pillow each plane as a 16-bit gray
  image; written as one deflate strip with horizontal prediction.

Example:
    >>> import numpy as np
    >>> rgb = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000
    >>> fmt, w, h = deep_format(encode_deep(rgb, "PNG"))
    >>> (fmt, w, h), bool((decode_deep(encode_deep(rgb, "PNG"), "x.png") == rgb).all())
    (('PNG', 3, 2), True)
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

import numpy as np

__all__ = ["deep_format", "decode_deep", "encode_deep", "DEEP_FORMATS"]

#: The formats that hold 16-bit colour here (by Pillow's format names).
DEEP_FORMATS = ("PNG", "TIFF")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples a pixel
_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
# Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_TIFF_INT_TYPES = {1: "B", 3: "H", 4: "I"}  # BYTE, SHORT, LONG: the only tag types read here
_SHORT, _LONG = 3, 4
_JPEG_COMPRESSIONS = (6, 7)  # colour-aware codecs: a plane cannot be decoded as gray
_MIN_IS_WHITE, _RGB = 0, 2


def deep_format(data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` when ``data`` is a 16-bit image with two or more
    channels in PNG or TIFF, else None (a file for Pillow, or not an image at all)."""
    if data[:8] == _PNG_SIGNATURE and len(data) >= 29 and data[12:16] == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
        return ("PNG", width, height) if depth == 16 and colour in (2, 4, 6) else None
    if data[:4] in _TIFF_MAGIC:
        try:
            tags = _tiff_tags(data, _tiff_endian(data), _first_ifd(data))
        except (struct.error, ValueError):
            return None  # damaged: Pillow gives its own sentence
        if 16 in tags.get(258, (1,)) and tags.get(277, (1,))[0] > 1:
            return "TIFF", tags.get(256, (0,))[0], tags.get(257, (0,))[0]
    return None


def decode_deep(data: bytes, name: str) -> np.ndarray:
    """A 16-bit colour PNG or TIFF as ``uint16`` ``(H, W, 2|3|4)``, EXIF orientation applied.

    ``name`` names the source in messages (a path, or "the uploaded image"); check the
    size that :func:`deep_format` reports against your pixel limit before calling this.

    Raises:
        ValueError: one sentence naming the source when the file is corrupt, truncated or
            in a layout not read here.
    """
    found = deep_format(data)
    if found is None:
        raise ValueError(f"{name} is not a 16-bit colour PNG or TIFF.")
    try:
        arr, orientation = (_decode_png if found[0] == "PNG" else _decode_tiff)(data, name)
    except (struct.error, IndexError) as e:  # a table or offset that points past the data
        raise ValueError(f"{name} is corrupt or truncated ({e}).") from None
    return _orient(arr, orientation)


def encode_deep(arr: np.ndarray, fmt: str, level: int = 6) -> bytes:
    """``uint16`` ``(H, W, 2|3|4)`` (or ``(H, W)``) → PNG or TIFF bytes at 16 bits a sample.

    ``level`` is the zlib compression level (1 fast ... 9 small).
    """
    arr = np.asarray(arr)
    if arr.dtype != np.uint16 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"expected uint16 pixels (H, W) or (H, W, 1-4), got {arr.dtype} {arr.shape}.")
    if arr.ndim == 2:
        arr = arr[..., None]
    if fmt == "PNG":
        return _encode_png(arr, level)
    if fmt == "TIFF":
        return _encode_tiff(arr, level)
    raise ValueError(f"16-bit colour is written only as {' or '.join(DEEP_FORMATS)}, not {fmt}.")


# ------------------------------------------------------------------------------------ PNG


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_chunks(data: bytes, name: str) -> Iterator[tuple[bytes, bytes]]:
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 8 : end - 4]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise ValueError(f"{name} is corrupt (its PNG chunk {kind.decode('latin-1')!r} fails its CRC check).")
        yield kind, body
        if kind == b"IEND":
            return
        pos = end
    raise ValueError(f"{name} is corrupt or truncated (the PNG data stops before its IEND chunk).")


def _decode_png(data: bytes, name: str) -> tuple[np.ndarray, int]:
    header, idat, trns, orientation = b"", [], b"", 1
    for kind, body in _png_chunks(data, name):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"tRNS":
            trns = body
        elif kind == b"eXIf":
            orientation = _exif_orientation(body)
    width, height, _, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", header[:13])
    if compression or filtering or interlace > 1 or not width or not height:
        raise ValueError(f"{name} is corrupt (its PNG header holds values no PNG may have).")
    bpp = 2 * _PNG_CHANNELS[colour]
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    sizes = [((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in passes]
    raw = _inflate(b"".join(idat), sum(h * (1 + w * bpp) for w, h in sizes if w and h), name)
    out = np.empty((height, width, bpp // 2), np.uint16)
    pos = 0
    for (x0, y0, dx, dy), (w, h) in zip(passes, sizes):
        if not (w and h):
            continue
        lines = np.frombuffer(raw, np.uint8, h * (1 + w * bpp), pos).reshape(h, 1 + w * bpp)
        pos += lines.size
        out[y0::dy, x0::dx] = _unfilter(lines, bpp, name).view(">u2").reshape(h, w, bpp // 2)
    if colour == 2 and len(trns) == 6:  # one RGB colour marked transparent: make it an alpha channel
        key = np.frombuffer(trns, ">u2")
        alpha = np.where((out == key).all(axis=2), 0, 65535).astype(np.uint16)
        out = np.dstack([out, alpha])
    return out, orientation


def _inflate(data: bytes, size: int, name: str) -> bytes:
    # max_length bounds memory to what the header promised, whatever the stream holds.
    try:
        raw = zlib.decompressobj().decompress(data, size)
    except zlib.error as e:
        raise ValueError(f"{name} is corrupt (its compressed pixel data does not inflate: {e}).") from None
    if len(raw) < size:
        raise ValueError(f"{name} is truncated: it holds {len(raw):,} of the {size:,} bytes of pixels it claims.")
    return raw


def _unfilter(lines: np.ndarray, bpp: int, name: str) -> np.ndarray:
    """Undo PNG's per-row filters: ``(rows, 1 + row_bytes)`` → ``(rows, row_bytes)`` uint8."""
    kinds, filtered = lines[:, 0], lines[:, 1:]
    if kinds.max() > 4:
        raise ValueError(f"{name} is corrupt (a PNG row names filter type {int(kinds.max())}; 0 to 4 exist).")
    if kinds.max() <= 2:
        return _unfilter_rows(kinds, filtered, bpp)
    return _unfilter_wavefront(kinds, filtered, bpp)


def _unfilter_rows(kinds: np.ndarray, filtered: np.ndarray, bpp: int) -> np.ndarray:
    # None, Sub and Up need only the row above and a running sum: one vector step a row.
    out = np.empty_like(filtered)
    above = np.zeros(filtered.shape[1], np.uint8)
    for r, kind in enumerate(kinds):
        x = filtered[r]
        if kind == 1:
            x = np.cumsum(x.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:
            x = x + above
        out[r] = x
        above = out[r]
    return out


def _unfilter_wavefront(kinds: np.ndarray, filtered: np.ndarray, bpp: int) -> np.ndarray:
    # Average and Paeth make each pixel depend on its left, upper and upper-left
    # neighbours, so no row can be done as one vector. The pixels on one anti-diagonal
    # (row + column = k) depend only on the two diagonals before it: one vector step a
    # diagonal, rows + columns steps in all, instead of one Python step a pixel.
    rows, width = filtered.shape[0], filtered.shape[1] // bpp
    done = np.zeros((rows + 1, width + 1, bpp), np.int16)  # one row and column of zeros in front
    x_all = filtered.reshape(rows, width, bpp).astype(np.int16)
    for k in range(rows + width - 1):
        r = np.arange(max(0, k - width + 1), min(rows, k + 1))
        c = k - r
        left, up, corner = done[r + 1, c], done[r, c + 1], done[r, c]
        guess = left + up - corner
        to_left, to_up, to_corner = np.abs(guess - left), np.abs(guess - up), np.abs(guess - corner)
        paeth = np.where((to_left <= to_up) & (to_left <= to_corner), left, np.where(to_up <= to_corner, up, corner))
        kind = kinds[r][:, None]
        predicted = np.select([kind == 1, kind == 2, kind == 3, kind == 4], [left, up, (left + up) >> 1, paeth], 0)
        done[r + 1, c + 1] = (x_all[r, c] + predicted) & 255
    return done[1:, 1:].astype(np.uint8).reshape(rows, width * bpp)


def _encode_png(arr: np.ndarray, level: int) -> bytes:
    height, width, channels = arr.shape
    raw = np.ascontiguousarray(arr, ">u2").view(np.uint8).reshape(height, width * channels * 2)
    bpp = 2 * channels
    lines = np.empty((height, 1 + raw.shape[1]), np.uint8)
    lines[:, 0] = 1  # Sub: each byte minus the same byte of the pixel to its left
    lines[:, 1 : 1 + bpp] = raw[:, :bpp]
    lines[:, 1 + bpp :] = raw[:, bpp:] - raw[:, :-bpp]
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPE[channels], 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(lines.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------------- TIFF


def _tiff_endian(data: bytes) -> str:
    return "<" if data[:2] == b"II" else ">"


def _first_ifd(data: bytes) -> int:
    return int(struct.unpack(_tiff_endian(data) + "I", data[4:8])[0])


def _tiff_tags(data: bytes, endian: str, offset: int) -> dict[int, tuple[int, ...]]:
    """The integer tags of the image file directory at ``offset`` (others are skipped)."""
    (count,) = struct.unpack(endian + "H", data[offset : offset + 2])
    if offset + 2 + 12 * count > len(data):
        raise ValueError("the TIFF directory runs past the end of the file")
    tags = {}
    for i in range(count):
        tag, kind, n, value = struct.unpack(endian + "HHI4s", data[offset + 2 + 12 * i : offset + 14 + 12 * i])
        code = _TIFF_INT_TYPES.get(kind)
        if code is None:
            continue
        size = struct.calcsize(code) * n
        if size > 4:
            (pointer,) = struct.unpack(endian + "I", value)
            value = data[pointer : pointer + size]
        tags[tag] = struct.unpack(endian + code * n, value[:size])
    return tags


def _ifd(entries: list[tuple[int, int, tuple[int, ...]]], offset: int, endian: str) -> bytes:
    """An image file directory to be placed at ``offset``, its long values right after it."""
    entries = sorted(entries)
    table = struct.pack(endian + "H", len(entries))
    extra_at = offset + 2 + 12 * len(entries) + 4
    extra = b""
    for tag, kind, values in entries:
        packed = struct.pack(endian + _TIFF_INT_TYPES[kind] * len(values), *values)
        if len(packed) <= 4:
            field = packed.ljust(4, b"\x00")
        else:
            field = struct.pack(endian + "I", extra_at + len(extra))
            extra += packed + b"\x00" * (len(packed) & 1)  # values start on a word boundary
        table += struct.pack(endian + "HHI", tag, kind, len(values)) + field
    return table + b"\x00\x00\x00\x00" + extra  # offset 0: no next directory


def _decode_tiff(data: bytes, name: str) -> tuple[np.ndarray, int]:
    endian = _tiff_endian(data)
    tags = _tiff_tags(data, endian, _first_ifd(data))
    width, height, channels = tags[256][0], tags[257][0], tags[277][0]
    compression, photometric = tags.get(259, (1,))[0], tags.get(262, (-1,))[0]
    planar, predictor = tags.get(284, (1,))[0], tags.get(317, (1,))[0]
    accepted = "accepted: 16-bit gray, gray+alpha, RGB or RGBA TIFFs in strips, or a PNG"
    if set(tags.get(258, ())) != {16} or set(tags.get(339, (1,))) != {1}:
        raise ValueError(f"{name} mixes bit depths or holds signed or float samples; {accepted}.")
    if 322 in tags or 273 not in tags:
        raise ValueError(f"{name} is a tiled TIFF, which is not read at 16-bit colour; {accepted}.")
    if channels > 4 or (channels >= 3) != (photometric == _RGB) or compression in _JPEG_COMPRESSIONS:
        raise ValueError(
            f"{name} holds {channels} samples a pixel, photometric {photometric}, compression {compression}; "
            f"{accepted}."
        )
    if predictor not in (1, 2):
        raise ValueError(f"{name} uses TIFF predictor {predictor}, which is not read for integer pixels; {accepted}.")
    offsets, counts = tags[273], tags[279]
    rows_per_strip = min(tags.get(278, (height,))[0], height)
    if planar == 2:
        per_plane = -(-height // rows_per_strip)
        planes = [
            _tiff_plane(data, endian, width, height, rows_per_strip, compression, strips, name)
            for strips in zip(*[iter(zip(offsets, counts))] * per_plane)
        ]
        arr = np.stack(planes[:channels], axis=2)
    else:
        plane = _tiff_plane(
            data, endian, width * channels, height, rows_per_strip, compression, tuple(zip(offsets, counts)), name
        )
        arr = plane.reshape(height, width, channels)
    if predictor == 2:  # horizontal differencing: each sample minus the same sample to its left
        arr = np.cumsum(arr, axis=1, dtype=np.uint16)
    if photometric == _MIN_IS_WHITE:
        arr[..., 0] = 65535 - arr[..., 0]
    return arr, tags.get(274, (1,))[0]


def _tiff_plane(
    data: bytes,
    endian: str,
    width: int,
    height: int,
    rows_per_strip: int,
    compression: int,
    strips: tuple[tuple[int, int], ...],
    name: str,
) -> np.ndarray:
    """Decode strips as one 16-bit gray image ``(height, width)`` through Pillow: the
    file's bytes stay where they are and a new directory describing them is appended."""
    from PIL import Image

    if len(strips) != -(-height // rows_per_strip):
        raise ValueError(f"{name} is corrupt (its TIFF strip table does not cover its {height} rows).")
    base = data + b"\x00" * (len(data) & 1)
    entries = [
        (256, _LONG, (width,)),
        (257, _LONG, (height,)),
        (258, _SHORT, (16,)),
        (259, _SHORT, (compression,)),
        (262, _SHORT, (1,)),
        (273, _LONG, tuple(o for o, _ in strips)),
        (277, _SHORT, (1,)),
        (278, _LONG, (rows_per_strip,)),
        (279, _LONG, tuple(n for _, n in strips)),
    ]
    gray = bytearray(base + _ifd(entries, len(base), endian))
    gray[4:8] = struct.pack(endian + "I", len(base))
    try:
        with Image.open(io.BytesIO(bytes(gray))) as im:
            im.load()
            plane = np.asarray(im)
    except Exception as e:  # Pillow and libtiff raise many kinds for damaged strips
        raise ValueError(f"{name} is corrupt or truncated ({str(e).strip() or type(e).__name__}).") from None
    if plane.shape != (height, width):
        raise ValueError(f"{name} is corrupt (its strips decode to {plane.shape}, not {(height, width)}).")
    return plane.astype(np.uint16)


def _encode_tiff(arr: np.ndarray, level: int) -> bytes:
    height, width, channels = arr.shape
    differences = arr.copy()
    differences[:, 1:] -= arr[:, :-1]  # predictor 2, wrapping like the reader's running sum
    strip = zlib.compress(np.ascontiguousarray(differences, "<u2").tobytes(), level)
    data_at = 8
    ifd_at = data_at + len(strip) + (len(strip) & 1)
    entries = [
        (256, _LONG, (width,)),
        (257, _LONG, (height,)),
        (258, _SHORT, (16,) * channels),
        (259, _SHORT, (8,)),  # deflate
        (262, _SHORT, (_RGB if channels >= 3 else 1,)),
        (273, _LONG, (data_at,)),
        (277, _SHORT, (channels,)),
        (278, _LONG, (height,)),
        (279, _LONG, (len(strip),)),
        (284, _SHORT, (1,)),
        (317, _SHORT, (2,)),
    ]
    if channels in (2, 4):
        entries.append((338, _SHORT, (2,)))  # the last sample is unassociated alpha
    head = b"II*\x00" + struct.pack("<I", ifd_at)
    return head + strip + b"\x00" * (len(strip) & 1) + _ifd(entries, ifd_at, "<")


# ------------------------------------------------------------------------------ orientation


def _exif_orientation(exif: bytes) -> int:
    # A PNG eXIf chunk is a TIFF header and directory; some writers keep the "Exif\0\0" prefix.
    exif = exif[6:] if exif[:6] == b"Exif\x00\x00" else exif
    try:
        return _tiff_tags(exif, _tiff_endian(exif), _first_ifd(exif)).get(274, (1,))[0]
    except (struct.error, ValueError):
        return 1  # unreadable EXIF: leave the pixels as stored, as Pillow does


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) the way ``PIL.ImageOps.exif_transpose`` does."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return np.ascontiguousarray(turned(arr) if turned else arr)
