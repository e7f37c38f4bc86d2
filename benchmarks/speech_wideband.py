"""Unseen speakers at 16 kHz, synthetic mixtures (BENCHMARKS.md §2b, the quality part).

Protocol: one item per speaker of the speaker-disjoint split (``--split test``: the 28
speakers of ``audio/wideband/librispeech/test``; ``--split val``: the ``librispeech/val`` and
``vctk16/val`` speakers, for choosing settings), a crop of 4-6 s (length and offset drawn with
seed 0) of the speaker's clips joined with 0.3 s pauses, 0.3 s of silence before and after.
Each item is mixed with each noise at a global SNR of 0, 5 and 10 dB: white Gaussian noise and
the five ``audio/noise_speech_commands/`` recordings (the last 30 % of each file for ``test``,
the first 70 %, which training may use, for ``val``), a random crop per mixture (seed
``[0, 1]``). Metrics: wide-band PESQ (``pesq``, mode ``wb``), STOI, SI-SDR (``daekit.metrics``);
means over the items per noise and SNR; RTF = compute seconds per audio second, every method
timed in the same run with one torch thread. The 48 kHz "bandwidth kept" part of §2b is
``speech_bandwidth.py``.

Methods side by side: the noisy input, every bundled daekit speech model (or ``--model``),
``noisereduce.reduce_noise`` with its defaults, and power spectral subtraction (the
noise PSD of the first 0.25 s, ``speech.spectral_subtraction`` with a 32 ms window).

Usage:
    python benchmarks/speech_wideband.py --data ../shared/data/audio --out benchmarks/results/speech_wideband.json
    python benchmarks/speech_wideband.py --split val --model speech16k=/tmp/speech16k_stage1
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
from speech import spectral_subtraction
from speech_vbdemand import pesq_wb  # wide-band PESQ at 16 kHz, NaN (and a printed line) where it fails

from daekit import ModelFileError
from daekit.apps.speech import SpeechEnhancer
from daekit.data.audio import join_clips, list_audio_files, load_audio, load_noise_bank
from daekit.metrics import si_sdr, stoi

SR = 16000
SNRS = (0, 5, 10)
NOISE_FILES = ("doing_the_dishes", "dude_miaowing", "running_tap", "pink_noise", "white_noise")
NOISES = ("white", *NOISE_FILES)
SPLITS = {"test": (["librispeech/test"], (0.7, 1.0)), "val": (["librispeech/val", "vctk16/val"], (0.0, 0.7))}


def speaker_items(data: Path, split: str, seed: int = 0) -> list[np.ndarray]:
    """One 4-6 s item per speaker of the split (its clips in name order, joined)."""
    folders, _ = SPLITS[split]
    by_speaker: dict[str, list[Path]] = {}
    for folder in folders:
        for f in list_audio_files(data / "wideband" / folder):
            by_speaker.setdefault(f.name.split("-")[0].split("_")[0], []).append(f)
    rng = np.random.default_rng(seed)
    items = []
    for speaker in sorted(by_speaker):
        clips, total = [], 0
        for f in sorted(by_speaker[speaker]):
            clips.append(load_audio(f, SR)[0])
            total += clips[-1].size
            if total >= 6 * SR:
                break
        speech = join_clips(clips, SR, gap_s=0.3, edge_s=0.0)
        length = min(speech.size, int(rng.uniform(4.0, 6.0) * SR))
        start = int(rng.integers(0, speech.size - length + 1))
        pad = np.zeros(int(0.3 * SR), np.float32)
        items.append(np.concatenate([pad, speech[start : start + length], pad]))
    return items


def mixtures(data: Path, split: str, n_items: int, seed: int = 0):
    items = speaker_items(data, split, seed)[: n_items or None]
    span = SPLITS[split][1]
    paths = [data / "noise_speech_commands" / f"{n}.wav" for n in NOISE_FILES]
    recorded = dict(zip(NOISE_FILES, load_noise_bank(paths, SR, span=span)))
    rng = np.random.default_rng([seed, 1])
    for i, x in enumerate(items):
        for noise in NOISES:
            if noise == "white":
                n = rng.standard_normal(x.size)
            else:
                track = recorded[noise]
                start = int(rng.integers(0, track.size - x.size))
                n = track[start : start + x.size].astype(np.float64)
            for snr in SNRS:
                gain = np.sqrt(np.mean(x.astype(np.float64) ** 2) / (np.mean(n**2) * 10 ** (snr / 10)))
                yield i, noise, snr, x, (x + gain * n).astype(np.float32)


def methods(models: list[str]) -> dict:
    import noisereduce

    out = {
        "noisy": lambda x: x,
        "noisereduce": lambda x: np.asarray(noisereduce.reduce_noise(y=x, sr=SR), np.float32),
        "spectral subtraction": lambda x: spectral_subtraction(x, n_fft=512, hop=128, sample_rate=SR),
    }
    for spec in models:
        name, _, path = spec.partition("=")
        enh = SpeechEnhancer.from_pretrained(path or name)  # a folder or a bundled name
        out[f"daekit {name}"] = (lambda e: lambda x: e(x, sample_rate=SR))(enh)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Unseen speakers at 16 kHz (BENCHMARKS.md §2b).")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/audio"), help="the shared audio folder")
    ap.add_argument("--split", choices=tuple(SPLITS), default="test", help="test (report) or val (choose settings)")
    ap.add_argument("--model", action="append", default=None, help="NAME=FOLDER or a bundled name (repeatable)")
    ap.add_argument("--items", type=int, default=0, help="only the first N speakers (0: all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/speech_wideband.json"), help="JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        meths = methods(args.model or SpeechEnhancer.bundled())
    except ModelFileError as err:  # a wrong --model folder: one sentence, not a traceback
        raise SystemExit(f"speech_wideband: {err}") from None
    scores: dict = {m: {nz: {s: [] for s in SNRS} for nz in NOISES} for m in meths}
    compute = dict.fromkeys(meths, 0.0)
    audio_s, t_start = 0.0, time.time()
    for _i, noise, snr, x, x_noisy in mixtures(args.data, args.split, args.items):
        audio_s += x.size / SR
        for m, fn in meths.items():
            t0 = time.perf_counter()
            y = np.asarray(fn(x_noisy), np.float32)[: x.size]
            compute[m] += time.perf_counter() - t0
            scores[m][noise][snr].append((pesq_wb(y, x), stoi(y, x, sample_rate=SR), si_sdr(y, x)))

    results: dict = {
        "protocol": "BENCHMARKS.md §2b (16 kHz quality)",
        "split": args.split,
        "snrs": list(SNRS),
        "device": machine(),
        "commit": git_commit(),
        "wall_s": round(time.time() - t_start, 1),
        "methods": {},
    }
    keys = ("pesq_wb", "stoi", "si_sdr")
    for m in meths:
        entry: dict = {"rtf": None if m == "noisy" else compute[m] / audio_s}
        for nz in NOISES:
            per_snr = {s: np.nanmean(scores[m][nz][s], axis=0) for s in SNRS}
            entry[nz] = {str(s): dict(zip(keys, v.tolist())) for s, v in per_snr.items()}
        overall = np.nanmean([scores[m][nz][s] for nz in NOISES for s in SNRS], axis=(0, 1))
        entry["mean"] = {k: float(v) for k, v in zip(keys, overall)}
        results["methods"][m] = entry

    n_items = len(scores["noisy"]["white"][0])
    print(f"\n{args.split} split: {n_items} speakers x {len(NOISES)} noises x SNR {SNRS} dB; PESQ-wb / STOI / SI-SDR\n")
    print("| method | " + " | ".join(NOISES) + " | mean | RTF |")
    print("|---|" + "---|" * (len(NOISES) + 2))
    for m, e in results["methods"].items():
        cells = []
        for nz in [*NOISES, "mean"]:
            v = e[nz] if nz == "mean" else {k: np.mean([e[nz][str(s)][k] for s in SNRS]) for k in keys}
            cells.append(f"{v['pesq_wb']:.2f} / {v['stoi']:.3f} / {v['si_sdr']:.1f}")
        rtf = "–" if e["rtf"] is None else f"{e['rtf']:.4f}"
        print(f"| {m} | " + " | ".join(cells) + f" | {rtf} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {args.out} ({results['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
