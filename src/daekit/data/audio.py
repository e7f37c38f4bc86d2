"""Reading and writing audio as clean float arrays: files, resampling, speech and noise sets.

Files go through ``soundfile`` (WAV, FLAC, OGG/Vorbis; ``pip install 'daekit[audio]'``) and
resampling through scipy's polyphase filter (``scipy.signal.resample_poly``). Waves are
float32 NumPy arrays shaped ``(channels, samples)`` unless mono is asked for, then
``(samples,)``. Nothing here adds noise: mixing happens on the device in
``daekit.noise.MixAtSNR``; this module only gathers the clean speech and the noise
recordings it mixes.

Example:
    >>> from daekit.data.audio import load_audio, save_audio
    >>> wave, sr = load_audio("speech.flac", sample_rate=8000)      # mono, resampled
    >>> save_audio("out.wav", wave, sr)                               # atomic write
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator, Sequence
from math import gcd
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import numpy as np

from .files import check_input_file, file_kind

if TYPE_CHECKING:
    import torch

__all__ = [
    "AUDIO_SUFFIXES",
    "load_audio",
    "save_audio",
    "audio_info",
    "check_audio_header",
    "AudioInfo",
    "AudioTooLongError",
    "MAX_CHANNELS",
    "iter_audio_blocks",
    "AudioWriter",
    "resample",
    "to_mono",
    "list_audio_files",
    "fsdd_files",
    "join_clips",
    "fsdd_test_items",
    "speech_items",
    "load_noise_bank",
    "PairedAudioFolder",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


def _soundfile() -> ModuleType:
    try:
        import soundfile
    except ImportError:
        raise ImportError("reading and writing audio needs soundfile: pip install 'daekit[audio]'.") from None
    return soundfile


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported audio format '{path.suffix or '(none)'}'; accepted: {', '.join(AUDIO_SUFFIXES)}."
        )


#: The most channels a recording may have: more is a damaged header, not a microphone array.
MAX_CHANNELS = 64

if TYPE_CHECKING:
    #: A file path, or an open binary file (the server's uploads, held in memory).
    AudioSource = str | os.PathLike | BinaryIO


class AudioTooLongError(ValueError):
    """A recording lasts longer than the limit its reader was given (``max_seconds``)."""


class AudioInfo(NamedTuple):
    """What a recording's header says, checked against the rules every reader applies."""

    sample_rate: int
    channels: int
    frames: int


def check_audio_header(sample_rate: int, channels: int, frames: int, name: str) -> None:
    """The rules every audio reader applies to a header (CLI, Python API, server alike).

    A sample rate outside :data:`daekit.checks.SAMPLE_RATE` (a 1 Hz WAV), no channels or
    more than :data:`MAX_CHANNELS`, or no samples at all mean a damaged or forged file:
    processed anyway, it would come out as silence or not at all.

    Raises:
        ValueError: one sentence starting with ``name``.
    """
    from ..checks import SAMPLE_RATE

    _check_channels(channels, name)
    if not SAMPLE_RATE.low <= sample_rate <= SAMPLE_RATE.high:  # type: ignore[operator]  # both bounds are set
        raise ValueError(f"{name} claims {sample_rate:,} Hz in its header; accepted: {SAMPLE_RATE.describe()}.")
    if frames <= 0:
        raise ValueError(f"{name} holds no samples.")


def _check_channels(channels: int, name: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"{name} has {channels} channels in its header; accepted: 1 to {MAX_CHANNELS}.")


def _label(source: AudioSource, name: str | None) -> str:
    if name is not None:
        return name
    return str(source) if isinstance(source, (str, os.PathLike)) else "the recording"


def _rewind(source: AudioSource) -> str | AudioSource:
    """What soundfile should open: a path as a string, a file object from its start."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    source.seek(0)
    return source


def _check_wav_chunks(f: BinaryIO, name: str) -> None:
    """Walk a RIFF/WAVE file's chunks and refuse one whose sizes claim more than it holds.

    libsndfile quietly clamps a data chunk that runs past the end of the file, so a
    truncated file, or one whose header lies, would be processed as if whole. Sizes 0 and
    0xFFFFFFFF mean "unknown" (written while streaming) and are read as far as the bytes go.
    Other formats are left to libsndfile, which checks their frames as they are read.
    """
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(0)
    head = f.read(12)
    if head[:4] not in (b"RIFF", b"RIFX"):
        return
    if head[8:12] != b"WAVE":
        raise ValueError(f"{name} is a RIFF file but not a WAVE file; accepted: {', '.join(AUDIO_SUFFIXES)}.")
    endian = "<" if head[:4] == b"RIFF" else ">"
    pos, rate, block = 12, 0, 0
    while pos + 8 <= size:
        f.seek(pos)
        cid, length = struct.unpack(endian + "4sI", f.read(8))
        if cid == b"fmt " and length >= 16:
            fmt = f.read(16)
            if len(fmt) == 16:
                _, channels, rate, _, block = struct.unpack(endian + "HHIIH", fmt[:14])
                _check_channels(channels, name)  # before libsndfile, whose refusal repeats the path
        if cid == b"data":
            held = size - pos - 8
            if length not in (0, 0xFFFFFFFF) and length > held:
                claim = f" ({length / (rate * block):.1f} s)" if rate and block else ""
                raise ValueError(
                    f"{name} is truncated or its header lies: the WAV header claims {length:,} bytes of "
                    f"samples{claim} but only {held:,} follow."
                )
            return
        pos += 8 + length + (length & 1)
    raise ValueError(f"{name} has no WAV 'data' chunk: it is truncated or not a WAV file.")


def audio_info(source: AudioSource, name: str | None = None) -> AudioInfo:
    """``(sample_rate, channels, frames)`` of a recording, without reading its samples,
    checked by :func:`check_audio_header` (and, for WAV, its chunk sizes against the file).

    Args:
        source: a ``.wav``, ``.flac`` or ``.ogg`` path, or an open binary file.
        name: how messages name the source (default: the path, or "the recording").

    Raises:
        FileNotFoundError: no such file. ValueError: one sentence naming the source.
    """
    sf, label = _soundfile(), _label(source, name)
    kind = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_input_file(path, f"a recording ({', '.join(AUDIO_SUFFIXES)})")
        _check_suffix(path)
        kind = file_kind(path)
        with open(path, "rb") as f:
            _check_wav_chunks(f, label)
    else:
        _check_wav_chunks(source, label)
    try:
        info = sf.info(_rewind(source))
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        # Say what the file is when its first bytes tell (a PNG named .wav), else libsndfile's words.
        what = f"holds {kind}, not a recording" if kind and "recording" not in kind else f"({_short(e)})"
        raise ValueError(
            f"{label} is not a readable audio file {what}; accepted: {', '.join(AUDIO_SUFFIXES)}."
        ) from None
    found = AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))
    check_audio_header(*found, label)
    return found


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # libsndfile says "Error opening 'PATH': reason"; the sentence names the file already.
    return text.split("': ", 1)[-1].rstrip(".")


def load_audio(
    source: AudioSource,
    sample_rate: int | None = None,
    mono: bool = True,
    *,
    name: str | None = None,
    max_seconds: float | None = None,
) -> tuple[np.ndarray, int]:
    """Read a recording as float32 in [-1, 1], optionally mixed to mono and resampled.

    Every rule of :func:`audio_info` applies, and the samples are counted as they are
    read: a file holding fewer than its header claims is refused as truncated.

    Args:
        source: a ``.wav``, ``.flac`` or ``.ogg`` path, or an open binary file.
        sample_rate: resample to this rate (None keeps the file's).
        mono: average the channels into one.
        name: how messages name the source (default: the path, or "the recording").
        max_seconds: refuse a longer recording (``AudioTooLongError``), from its header
            before decoding and again while reading, so memory stays bounded.

    Returns:
        ``(wave, rate)``; wave is ``(samples,)`` when mono, else ``(channels, samples)``.

    Raises:
        FileNotFoundError: no such file. ValueError: an unsupported, corrupt, truncated or
        empty file, a header outside the rules, or NaN/inf samples, in one sentence
        naming the file.
    """
    info = audio_info(source, name)
    label = _label(source, name)
    max_frames = None
    if max_seconds is not None:
        max_frames = int(max_seconds * info.sample_rate)
        if info.frames > max_frames:
            raise AudioTooLongError(
                f"{label} lasts {info.frames / info.sample_rate:.1f} s, over the limit of {max_seconds:g} s."
            )
    blocks = _read_blocks(source, info, label, 10 * info.sample_rate, max_frames, max_seconds)
    wave = np.concatenate(list(blocks), axis=1)  # (channels, samples)
    rate = info.sample_rate
    if mono:
        wave = to_mono(wave)
    if sample_rate is not None and sample_rate != rate:
        wave = resample(wave, rate, sample_rate)
        rate = sample_rate
    return np.ascontiguousarray(wave, dtype=np.float32), int(rate)


def to_mono(wave: np.ndarray) -> np.ndarray:
    """Average ``(channels, samples)`` into ``(samples,)``; a 1-D wave is returned as is."""
    wave = np.asarray(wave)
    return wave if wave.ndim == 1 else wave.mean(axis=0)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``).

    Shape: ``(..., samples)`` -> ``(..., ceil(samples * target_sr / orig_sr))``.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} and {target_sr}.")
    if orig_sr == target_sr:
        return np.asarray(wave, dtype=np.float32)
    try:
        from scipy.signal import resample_poly
    except ImportError:
        raise ImportError("resampling audio needs scipy: pip install 'daekit[audio]'.") from None
    g = gcd(int(orig_sr), int(target_sr))
    out = resample_poly(np.asarray(wave, dtype=np.float32), target_sr // g, orig_sr // g, axis=-1)
    return out.astype(np.float32, copy=False)


def save_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``(samples,)`` or ``(channels, samples)`` atomically (temp file + rename).

    The format follows the suffix (.wav/.flac/.ogg); WAV and FLAC are 16-bit PCM unless
    ``subtype`` says otherwise (e.g. ``"FLOAT"``). Samples are clipped to [-1, 1].
    """
    from ..io import AtomicOutput, check_finite_output

    sf, path = _soundfile(), Path(path)
    _check_suffix(path)
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim not in (1, 2):
        raise ValueError(f"cannot write {path}: expected a (samples,) or (channels, samples) wave.")
    check_finite_output(wave, path)
    data = np.clip(wave if wave.ndim == 1 else wave.T, -1.0, 1.0)
    fmt = _FORMATS[path.suffix.lower()]
    subtype = subtype or ("VORBIS" if fmt == "OGG" else "PCM_16")
    with AtomicOutput(path) as out:
        sf.write(str(out.tmp), data, int(sample_rate), format=fmt, subtype=subtype)
    return path


def iter_audio_blocks(source: AudioSource, block_frames: int, *, name: str | None = None) -> Iterator[np.ndarray]:
    """Read a recording of any length block by block: ``(channels, <= block_frames)`` float32.

    Memory stays bounded by one block, so multi-hour recordings stream from disk. The
    rules of :func:`audio_info` are checked before the first block; a file that ends
    before the samples its header claims raises ``ValueError`` after the last one (a
    writer fed from here then discards its half-written output).
    """
    label = _label(source, name)
    yield from _read_blocks(source, audio_info(source, name), label, block_frames)


def _read_blocks(
    source: AudioSource,
    info: AudioInfo,
    label: str,
    block_frames: int,
    max_frames: int | None = None,
    max_seconds: float | None = None,
) -> Iterator[np.ndarray]:
    sf = _soundfile()
    read = 0
    try:
        with sf.SoundFile(_rewind(source)) as f:
            while True:
                block = f.read(max(1, block_frames), dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                read += block.shape[0]
                if max_frames is not None and read > max_frames:
                    raise AudioTooLongError(f"{label} is longer than the limit of {max_seconds:g} s.")
                if not np.isfinite(block).all():
                    raise ValueError(f"{label} holds NaN or infinite samples.")
                yield block.T
    except ValueError:
        raise
    except Exception as e:  # libsndfile's errors for damaged frames
        raise ValueError(f"{label} is corrupt or truncated: its samples cannot be decoded ({_short(e)}).") from None
    if read < info.frames:
        raise ValueError(f"{label} is truncated: it holds {read:,} of the {info.frames:,} samples its header claims.")


class AudioWriter:
    """Write a long recording block by block into a temp file, renamed into place on
    ``close()`` (a crash leaves any earlier file untouched). Use as a context manager.

    Example:
        >>> with AudioWriter("out.flac", 8000, channels=1) as w:
        ...     w.write(np.zeros(800, np.float32))
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int = 1, subtype: str | None = None):
        from ..io import AtomicOutput

        sf, self.path = _soundfile(), Path(path)
        _check_suffix(self.path)
        fmt = _FORMATS[self.path.suffix.lower()]
        self._out = AtomicOutput(self.path)
        try:
            self._file = sf.SoundFile(
                str(self._out.tmp),
                "w",
                samplerate=int(sample_rate),
                channels=int(channels),
                format=fmt,
                subtype=subtype or ("VORBIS" if fmt == "OGG" else "PCM_16"),
            )
        except BaseException:
            self._out.discard()
            raise
        self.frames = 0

    def write(self, wave: np.ndarray) -> None:
        """Append ``(samples,)`` or ``(channels, samples)``; clipped to [-1, 1]. A block
        holding NaN or infinity is refused (``NonFiniteOutputError``)."""
        from ..io import check_finite_output

        wave = np.asarray(wave, dtype=np.float32)
        check_finite_output(wave, self.path)
        data = wave[:, None] if wave.ndim == 1 else wave.T
        self._file.write(np.clip(data, -1.0, 1.0))
        self.frames += data.shape[0]

    def close(self, keep: bool = True) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if keep:
            self._out.commit()
        else:
            self._out.discard()

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(keep=exc_type is None)


def list_audio_files(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Sorted audio files (.wav/.flac/.ogg) under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(2, "no such folder", str(folder))
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


# ---------------------------------------------------------------------------- speech sets

_FSDD_NAME = re.compile(r"^(\d+)_([A-Za-z]+)_(\d+)\.wav$")


def fsdd_files(folder: str | os.PathLike, split: str = "train") -> dict[str, list[Path]]:
    """Free Spoken Digit Dataset files by speaker: ``split="test"`` takes recordings with
    index 0-4 (the FSDD convention), ``"train"`` the rest."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is not valid: use 'train' or 'test'.")
    out: dict[str, list[Path]] = {}
    for p in sorted(Path(folder).glob("*.wav")):
        m = _FSDD_NAME.match(p.name)
        if m and (int(m.group(3)) < 5) == (split == "test"):
            out.setdefault(m.group(2), []).append(p)
    if not out:
        raise FileNotFoundError(2, "no FSDD recordings ({digit}_{speaker}_{index}.wav)", str(folder))
    return out


def join_clips(clips: Sequence[np.ndarray], sample_rate: int, gap_s: float = 0.15, edge_s: float = 0.3) -> np.ndarray:
    """Clips joined with ``gap_s`` of silence between and ``edge_s`` before and after."""
    gap, edge = (
        np.zeros(int(round(gap_s * sample_rate)), np.float32),
        np.zeros(int(round(edge_s * sample_rate)), np.float32),
    )
    parts = [edge]
    for i, c in enumerate(clips):
        parts += ([gap] if i else []) + [np.asarray(c, np.float32)]
    return np.concatenate(parts + [edge])


def fsdd_test_items(
    folder: str | os.PathLike, n_items: int = 100, clips_per_item: int = 4, seed: int = 0, sample_rate: int = 8000
) -> list[np.ndarray]:
    """The speech-benchmark test items (BENCHMARKS.md §2): each joins ``clips_per_item``
    random test clips of one speaker (speakers in turn), 0.15 s apart, 0.3 s of silence
    at both ends; drawn with ``numpy.random.default_rng(seed)``."""
    by_speaker = fsdd_files(folder, "test")
    speakers = sorted(by_speaker)
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_items):
        files = by_speaker[speakers[i % len(speakers)]]
        pick = rng.choice(len(files), size=clips_per_item, replace=False)
        items.append(join_clips([load_audio(files[j], sample_rate)[0] for j in pick], sample_rate))
    return items


def speech_items(
    clips_by_speaker: dict[str, list[np.ndarray]],
    n_items: int,
    length: int,
    sample_rate: int,
    seed: int = 0,
    gap_s: tuple[float, float] = (0.05, 0.4),
    edge_s: tuple[float, float] = (0.0, 0.4),
) -> np.ndarray:
    """Clean training items: random clips of one speaker joined with random silences,
    cut or zero-padded to ``length`` samples at a random offset.

    Returns:
        float32 ``(n_items, 1, length)``.
    """
    rng = np.random.default_rng(seed)
    speakers = sorted(clips_by_speaker)
    out = np.zeros((n_items, 1, length), np.float32)
    for i in range(n_items):
        clips = clips_by_speaker[speakers[rng.integers(len(speakers))]]
        parts = [np.zeros(int(rng.uniform(*edge_s) * sample_rate), np.float32)]
        total = parts[0].size
        while total < length + sample_rate // 2:
            c = clips[rng.integers(len(clips))]
            gap = np.zeros(int(rng.uniform(*gap_s) * sample_rate), np.float32)
            parts += [c, gap]
            total += c.size + gap.size
        wave = np.concatenate(parts)
        start = rng.integers(0, max(1, wave.size - length))
        seg = wave[start : start + length]
        out[i, 0, : seg.size] = seg
    return out


def load_noise_bank(
    paths: Sequence[str | os.PathLike], sample_rate: int, span: tuple[float, float] = (0.0, 1.0)
) -> list[np.ndarray]:
    """Noise recordings as mono float32 tracks at ``sample_rate``, each cut to the
    fraction ``span`` of its length (e.g. ``(0, 0.7)``: the first 70 %, for training)."""
    if not 0.0 <= span[0] < span[1] <= 1.0:
        raise ValueError(f"span={span!r} is not valid: expected 0 <= start < end <= 1.")
    bank = []
    for p in paths:
        wave, _ = load_audio(p, sample_rate)
        bank.append(wave[int(span[0] * wave.size) : int(span[1] * wave.size)])
    return bank


class PairedAudioFolder:
    """Recorded noisy/clean pairs: files with the same name in two folders, as a
    map-style dataset of ``(clean, noisy)`` segments (the order ``dae(x, x_noisy)`` takes).

    Args:
        clean_dir, noisy_dir: folders with matching file names.
        sample_rate: resample every file to this rate.
        segment: cut each pair into segments of this many samples (the last one
            zero-padded); None gives whole files (batch size 1 then).

    Shape:
        each item: ``(clean (1, S), noisy (1, S))`` float32 tensors.
    """

    def __init__(
        self,
        clean_dir: str | os.PathLike,
        noisy_dir: str | os.PathLike,
        sample_rate: int = 8000,
        segment: int | None = 16000,
    ):
        self.clean_dir, self.noisy_dir = clean_dir, noisy_dir
        self.sample_rate, self.segment = sample_rate, segment
        clean = {p.name: p for p in list_audio_files(clean_dir)}
        noisy = {p.name: p for p in list_audio_files(noisy_dir)}
        names = sorted(set(clean) & set(noisy))
        if not names:
            raise ValueError(f"no file names appear in both {clean_dir} and {noisy_dir}: pairs need equal names.")
        self.pairs_ = [(clean[n], noisy[n]) for n in names]
        self.items_: list[tuple[np.ndarray, np.ndarray]] = []
        for c, n in self.pairs_:
            xc, _ = load_audio(c, sample_rate)
            xn, _ = load_audio(n, sample_rate)
            t = min(xc.size, xn.size)
            step = segment or t
            for s in range(0, t, step):
                a, b = np.zeros(step, np.float32), np.zeros(step, np.float32)
                a[: min(step, t - s)], b[: min(step, t - s)] = xc[s : s + step], xn[s : s + step]
                self.items_.append((a, b))

    def __len__(self) -> int:
        return len(self.items_)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        a, b = self.items_[i]
        return torch.from_numpy(a)[None], torch.from_numpy(b)[None]
