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
import tempfile
from collections.abc import Iterator, Sequence
from math import gcd
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "AUDIO_SUFFIXES",
    "load_audio",
    "save_audio",
    "audio_info",
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


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(sample_rate, channels, frames)`` of an audio file, without reading its samples."""
    sf, path = _soundfile(), Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    _check_suffix(path)
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        raise ValueError(
            f"{path}: not a readable audio file ({_short(e)}); accepted: {', '.join(AUDIO_SUFFIXES)}."
        ) from None
    return int(info.samplerate), int(info.channels), int(info.frames)


def _default_mode(path: str) -> None:
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    from ..io import default_file_mode

    os.chmod(path, default_file_mode())


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text.rstrip(".")


def load_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in [-1, 1], optionally mixed to mono and resampled.

    Args:
        path: a ``.wav``, ``.flac`` or ``.ogg`` file.
        sample_rate: resample to this rate (None keeps the file's).
        mono: average the channels into one.

    Returns:
        ``(wave, rate)``; wave is ``(samples,)`` when mono, else ``(channels, samples)``.

    Raises:
        FileNotFoundError: no such file. ValueError: an unsupported, corrupt or empty file,
        or one holding NaN/inf samples, in one sentence naming the file.
    """
    sf = _soundfile()
    rate, _, frames = audio_info(path)
    if frames == 0:
        raise ValueError(f"{path}: the audio file holds no samples.")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise ValueError(f"{path}: the audio data cannot be decoded ({_short(e)}).") from None
    if data.size == 0:
        raise ValueError(f"{path}: the audio file holds no samples.")
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: the audio holds NaN or infinite samples.")
    wave = data.T  # (channels, samples)
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
    sf, path = _soundfile(), Path(path)
    _check_suffix(path)
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim not in (1, 2) or not np.isfinite(wave).all():
        raise ValueError(f"cannot write {path}: expected a finite (samples,) or (channels, samples) wave.")
    data = np.clip(wave if wave.ndim == 1 else wave.T, -1.0, 1.0)
    fmt = _FORMATS[path.suffix.lower()]
    subtype = subtype or ("VORBIS" if fmt == "OGG" else "PCM_16")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, data, int(sample_rate), format=fmt, subtype=subtype)
        _default_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def iter_audio_blocks(path: str | os.PathLike, block_frames: int) -> Iterator[np.ndarray]:
    """Read a file of any length block by block: ``(channels, <= block_frames)`` float32.

    Memory stays bounded by one block, so multi-hour recordings stream from disk.
    """
    sf = _soundfile()
    _, _, frames = audio_info(path)
    if frames == 0:
        raise ValueError(f"{path}: the audio file holds no samples.")
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                if not np.isfinite(block).all():
                    raise ValueError(f"{path}: the audio holds NaN or infinite samples.")
                yield block.T
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(f"{path}: the audio data cannot be decoded ({_short(e)}).") from None


class AudioWriter:
    """Write a long recording block by block into a temp file, renamed into place on
    ``close()`` (a crash leaves any earlier file untouched). Use as a context manager.

    Example:
        >>> with AudioWriter("out.flac", 8000, channels=1) as w:
        ...     w.write(np.zeros(800, np.float32))
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int = 1, subtype: str | None = None):
        sf, self.path = _soundfile(), Path(path)
        _check_suffix(self.path)
        fmt = _FORMATS[self.path.suffix.lower()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._file = sf.SoundFile(
            self._tmp,
            "w",
            samplerate=int(sample_rate),
            channels=int(channels),
            format=fmt,
            subtype=subtype or ("VORBIS" if fmt == "OGG" else "PCM_16"),
        )
        self.frames = 0

    def write(self, wave: np.ndarray) -> None:
        """Append ``(samples,)`` or ``(channels, samples)``; clipped to [-1, 1]."""
        wave = np.asarray(wave, dtype=np.float32)
        data = wave[:, None] if wave.ndim == 1 else wave.T
        self._file.write(np.clip(data, -1.0, 1.0))
        self.frames += data.shape[0]

    def close(self, keep: bool = True) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if keep:
            _default_mode(self._tmp)
            os.replace(self._tmp, self.path)
        elif os.path.exists(self._tmp):
            os.unlink(self._tmp)

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
