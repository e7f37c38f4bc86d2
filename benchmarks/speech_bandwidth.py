"""Bandwidth kept by the speech models at 48 kHz (BENCHMARKS.md §2b, "bandwidth kept").

Every bundled model runs on 48 kHz mixtures twice: as shipped (``keep_band=True``: the
band above the model's Nyquist is split off, turned down per band, added back) and with
``keep_band=False`` (the model's band only, as before). Reported per model and noise:

* ``E>4k`` / ``E>8k``: enhanced over clean energy above 4 / 8 kHz in speech frames (dB;
  goal within +-3 dB). ``E>8k`` needs clean speech with energy above 8 kHz: it is left
  out (n/a) where the clean speech has none (16 kHz sources).
* ``NR>4k`` / ``NR>8k``: noisy over enhanced energy above 4 / 8 kHz in noise-only frames
  (dB; goal >= 6 dB).
* PESQ-wb and STOI at 16 kHz (where ``pesq`` / ``pystoi`` are installed), SI-SDR at 48 kHz, RTF.

Protocol: test speakers only. ``--speech librispeech`` (default): the speaker-disjoint
LibriSpeech test split of ``audio/wideband`` (16 kHz, content up to 8 kHz), one clip per
speaker, a 5 s crop, upsampled to 48 kHz (scipy polyphase), with 0.5 s of silence before
and after; ``--speech vctk48``: the 48 kHz VCTK test snippets, joined into items of >= 4 s
with 0.3 s gaps (refused when the files hold no signal). Noise: white and pink Gaussian
noise at 48 kHz, and the last 30 % of ``doing_the_dishes.wav`` (16 kHz, so nothing above
8 kHz), at a global SNR of 0, 5 and 10 dB; seed 0. Frames of 20 ms: speech frames have
clean energy within 30 dB of the item's loudest, noise-only frames more than 60 dB below it.

Usage:
    .venv/bin/python benchmarks/speech_bandwidth.py --data ../shared/data/audio \\
        --out benchmarks/results/speech_bandwidth.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import git_commit, machine

from daekit.apps.speech import SpeechEnhancer
from daekit.data.audio import load_audio, load_noise_bank, resample
from daekit.metrics import si_sdr

SR = 48000
SNRS = (0, 5, 10)
NOISES = ("white", "pink", "dishes")
FRAME = 960  # 20 ms


def librispeech_items(data: Path, n_items: int, seconds: float = 5.0) -> list[np.ndarray]:
    """One clip per test speaker (the first by name), a crop of ``seconds`` from 0.5 s in, at 48 kHz."""
    files = sorted((data / "wideband" / "librispeech" / "test").glob("*.flac"))
    by_speaker: dict[str, Path] = {}
    for f in files:
        by_speaker.setdefault(f.name.split("-")[0], f)
    items = []
    for f in list(by_speaker.values())[:n_items]:
        x, sr = load_audio(f)
        x = x[int(0.5 * sr) : int((0.5 + seconds) * sr)]
        x = resample(x, sr, SR)
        items.append(np.pad(x, (SR // 2, SR // 2)).astype(np.float32))
    return items


def vctk48_items(data: Path, n_items: int) -> list[np.ndarray]:
    files = sorted((data / "wideband" / "vctk48" / "test").glob("*.flac"))
    snippets = []
    for f in files:
        x, sr = load_audio(f)
        if sr != SR:
            x = resample(x, sr, SR)
        if np.abs(x).max() < 1e-3:
            raise SystemExit(
                f"{f} holds no signal (peak {np.abs(x).max():.1e}, a few 16-bit steps): the vctk48 "
                "test files are unusable; use --speech librispeech."
            )
        snippets.append(x)
    items, cur = [], [np.zeros(SR // 2, np.float32)]
    for x in snippets:
        cur += [x, np.zeros(int(0.3 * SR), np.float32)]
        if sum(c.size for c in cur) >= 4 * SR:
            items.append(np.concatenate(cur + [np.zeros(SR // 5, np.float32)]))
            cur = [np.zeros(SR // 2, np.float32)]
    return items[:n_items]


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spec[1:] /= np.sqrt(f[1:] / f[1])
    spec[0] = 0
    return np.fft.irfft(spec, n)


def mixtures(data: Path, speech: str, n_items: int, seed: int = 0):
    items = librispeech_items(data, n_items) if speech == "librispeech" else vctk48_items(data, n_items)
    dishes = load_noise_bank([data / "noise_speech_commands" / "doing_the_dishes.wav"], SR, span=(0.7, 1.0))[0]
    rng = np.random.default_rng([seed, 1])
    for i, x in enumerate(items):
        for noise_name in NOISES:
            if noise_name == "white":
                n = rng.standard_normal(x.size)
            elif noise_name == "pink":
                n = pink(x.size, rng)
            else:
                start = int(rng.integers(0, dishes.size - x.size))
                n = dishes[start : start + x.size].astype(np.float64)
            for snr in SNRS:
                gain = np.sqrt(np.mean(x.astype(np.float64) ** 2) / (np.mean(n**2) * 10 ** (snr / 10)))
                yield i, noise_name, snr, x, (x + gain * n).astype(np.float32)


def frame_energy(x: np.ndarray) -> np.ndarray:
    m = x.size // FRAME
    return (x[: m * FRAME].astype(np.float64).reshape(m, FRAME) ** 2).sum(1)


def band_energy(x: np.ndarray, frames: np.ndarray, lo_hz: float) -> float:
    """Energy above ``lo_hz`` summed over the chosen 20 ms frames (a Hann-windowed FFT each)."""
    m = x.size // FRAME
    segs = x[: m * FRAME].astype(np.float64).reshape(m, FRAME)[frames] * np.hanning(FRAME)
    spec = np.abs(np.fft.rfft(segs, axis=1)) ** 2
    f = np.fft.rfftfreq(FRAME, 1 / SR)
    return float(spec[:, f > lo_hz].sum())


def db(a: float, b: float) -> float:
    return float(10 * np.log10((a + 1e-30) / (b + 1e-30)))


def quality(y: np.ndarray, x: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {"si_sdr": si_sdr(y, x), "pesq_wb": None, "stoi": None}
    y16, x16 = resample(y, SR, 16000), resample(x, SR, 16000)
    try:
        from pesq import pesq

        out["pesq_wb"] = float(pesq(16000, x16.astype(np.float64), y16.astype(np.float64), "wb"))
    except ImportError:
        pass
    try:
        from daekit.metrics import stoi

        out["stoi"] = stoi(y16, x16, sample_rate=16000)
    except ImportError:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the shared audio folder (…/data/audio)")
    ap.add_argument("--speech", choices=("librispeech", "vctk48"), default="librispeech")
    ap.add_argument("--items", type=int, default=12, help="test items (one per speaker)")
    ap.add_argument("--models", nargs="*", default=None, help="bundled names or folders (default: all bundled)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    names = args.models or SpeechEnhancer.bundled()
    methods: dict[str, SpeechEnhancer | None] = {"noisy": None}
    for name in names:
        methods[f"{name} keep_band"] = SpeechEnhancer.from_pretrained(name)
        methods[f"{name} model band only"] = SpeechEnhancer.from_pretrained(name, keep_band=False)
    rows: dict[tuple[str, str], list[dict]] = {}
    per_mixture = []
    for i, noise_name, snr, x, noisy in mixtures(args.data, args.speech, args.items):
        e = frame_energy(x)
        speech = e > e.max() * 1e-3
        quiet = e < e.max() * 1e-6
        wide = args.speech == "vctk48"  # clean speech with content above 8 kHz (LibriSpeech is 16 kHz)
        for method, enh in methods.items():
            t0 = time.perf_counter()
            y = noisy if enh is None else enh(noisy, sample_rate=SR)
            compute = time.perf_counter() - t0
            r = {
                "item": i,
                "noise": noise_name,
                "snr_db": snr,
                "method": method,
                "e4k_db": db(band_energy(y, speech, 4000), band_energy(x, speech, 4000)),
                "e8k_db": db(band_energy(y, speech, 8000), band_energy(x, speech, 8000)) if wide else None,
                "nr4k_db": db(band_energy(noisy, quiet, 4000), band_energy(y, quiet, 4000)),
                "nr8k_db": db(band_energy(noisy, quiet, 8000), band_energy(y, quiet, 8000)),
                "rtf": compute / (x.size / SR),
            } | quality(y, x)
            rows.setdefault((method, noise_name), []).append(r)
            per_mixture.append(r)
        print(f"item {i} {noise_name} {snr} dB done", file=sys.stderr, flush=True)

    def mean(rs: list[dict], key: str) -> float | None:
        v = [r[key] for r in rs if r[key] is not None]
        return float(np.mean(v)) if v else None

    keys = ("e4k_db", "e8k_db", "nr4k_db", "nr8k_db", "pesq_wb", "stoi", "si_sdr", "rtf")
    summary = [{"method": m, "noise": n} | {k: mean(rs, k) for k in keys} for (m, n), rs in rows.items()]
    by_snr = []
    for (m, n), rs in rows.items():
        for snr in SNRS:
            sel = [r for r in rs if r["snr_db"] == snr]
            by_snr.append({"method": m, "noise": n, "snr_db": snr} | {k: mean(sel, k) for k in keys})

    def fmt(v: float | None, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    header = "| method | noise | E>4k dB | E>8k dB | NR>4k dB | NR>8k dB | PESQ-wb | STOI | SI-SDR | RTF |"
    print(header)
    print("|" + "---|" * 10)
    for s in summary:
        print(
            f"| {s['method']} | {s['noise']} | {fmt(s['e4k_db'], '+.1f')} | {fmt(s['e8k_db'], '+.1f')} | "
            f"{fmt(s['nr4k_db'], '.1f')} | {fmt(s['nr8k_db'], '.1f')} | {fmt(s['pesq_wb'], '.2f')} | "
            f"{fmt(s['stoi'], '.3f')} | {fmt(s['si_sdr'], '.1f')} | {fmt(s['rtf'], '.3f')} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "benchmark": "speech_bandwidth",
            "protocol": {
                "speech": args.speech,
                "items": args.items,
                "snr_db": SNRS,
                "noises": NOISES,
                "sample_rate": SR,
            },
            "commit": git_commit(),
            "machine": machine(),
            "summary": summary,
            "by_snr": by_snr,
            "mixtures": per_mixture,
        }
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
