"""Speech-enhancement benchmark (BENCHMARKS.md §2), daekit side by side with classical methods.

Protocol: 100 test items, each 4 random FSDD test clips (index 0-4) of one speaker
(speakers in turn) joined with 0.15 s of silence and 0.3 s at both ends; each item mixed
with white Gaussian noise and with a random crop of the last 30 % of
``doing_the_dishes.wav`` at a global SNR of 0, 5 and 10 dB (600 mixtures); seed 0
(items from ``default_rng(0)``, noise from ``default_rng([0, 1])``). Metrics: PESQ
narrow-band (``pesq``), STOI (``pystoi``), SI-SDR; real-time factor = compute seconds per
audio second on this CPU, every method timed in the same run with one torch thread.

Baselines: noisereduce (defaults), ``scipy.signal.wiener`` (defaults), power spectral
subtraction (noise PSD from the first 0.25 s, over-subtraction 2, floor 0.01).

Usage:
    .venv/bin/python benchmarks/speech.py --data ../shared/data/audio --out benchmarks/results/speech.json
    (needs: pip install -r benchmarks/requirements.txt)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from daekit import ModelFileError
from daekit.apps.speech import SpeechEnhancer
from daekit.data.audio import fsdd_test_items, load_noise_bank
from daekit.metrics import pesq_nb, si_sdr, stoi

SR = 8000
SNRS = (0, 5, 10)
NOISES = ("white", "dishes")


def spectral_subtraction(
    x: np.ndarray,
    n_fft: int = 256,
    hop: int = 64,
    noise_s: float = 0.25,
    alpha: float = 2.0,
    beta: float = 0.01,
    sample_rate: int = SR,
) -> np.ndarray:
    """Power spectral subtraction (Berouti et al. 1979) with the noise PSD of the first frames."""
    from scipy.signal import istft, stft

    _, _, spec = stft(x, sample_rate, nperseg=n_fft, noverlap=n_fft - hop)
    power = np.abs(spec) ** 2
    n_frames = max(1, int(noise_s * sample_rate / hop))
    noise = power[:, :n_frames].mean(axis=1, keepdims=True)
    clean_power = np.maximum(power - alpha * noise, beta * power)
    _, y = istft(np.sqrt(clean_power) * np.exp(1j * np.angle(spec)), sample_rate, nperseg=n_fft, noverlap=n_fft - hop)
    return y[: x.size].astype(np.float32)


def methods(model_dirs: list[str]) -> dict:
    import noisereduce
    from scipy.signal import wiener

    out = {
        "noisy": lambda x: x,
        "noisereduce": lambda x: noisereduce.reduce_noise(y=x, sr=SR).astype(np.float32),
        "scipy.signal.wiener": lambda x: wiener(x).astype(np.float32),
        "spectral subtraction": spectral_subtraction,
    }
    for spec in model_dirs:
        name, _, path = spec.partition("=")
        enh = SpeechEnhancer.from_pretrained(path or name)  # a folder or a bundled name
        out[f"daekit {name}"] = (lambda e: lambda x: e(x, sample_rate=SR))(enh)
    return out


def mixtures(data: Path, n_items: int, seed: int = 0):
    items = fsdd_test_items(data / "fsdd", n_items=n_items, seed=seed, sample_rate=SR)
    dishes = load_noise_bank([data / "noise_speech_commands" / "doing_the_dishes.wav"], SR, span=(0.7, 1.0))[0]
    rng = np.random.default_rng([seed, 1])
    for i, x in enumerate(items):
        for noise in NOISES:
            if noise == "white":
                n = rng.standard_normal(x.size).astype(np.float32)
            else:
                start = rng.integers(0, dishes.size - x.size)
                n = dishes[start : start + x.size].copy()
            for snr in SNRS:
                scale = np.sqrt(np.mean(x**2) / (np.mean(n**2) * 10 ** (snr / 10)))
                yield i, noise, snr, x, (x + scale * n).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Speech enhancement benchmark (BENCHMARKS.md §2).")
    ap.add_argument("--data", default="../shared/data/audio", help="folder with fsdd/ and noise_speech_commands/")
    ap.add_argument("--out", default="benchmarks/results/speech.json", help="JSON results file")
    ap.add_argument(
        "--model",
        action="append",
        default=None,
        help="NAME=FOLDER (or a bundled name) of a speech model to compare (repeatable); "
        "default: every shipped speech model",
    )
    ap.add_argument("--items", type=int, default=100, help="test items (the protocol uses 100)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    try:
        meths = methods(args.model or SpeechEnhancer.bundled())
    except ModelFileError as err:  # a wrong --model folder: one sentence, not a traceback
        raise SystemExit(f"speech benchmark: {err}") from None
    scores = {m: {nz: {s: [] for s in SNRS} for nz in NOISES} for m in meths}
    compute = dict.fromkeys(meths, 0.0)
    cpu = dict.fromkeys(meths, 0.0)  # process CPU time: less sensitive to other jobs on a shared machine
    audio_s = 0.0
    t_start = time.time()
    for _i, noise, snr, x, x_noisy in mixtures(data, args.items):
        audio_s += x.size / SR
        for m, fn in meths.items():
            t0, c0 = time.perf_counter(), time.process_time()
            y = fn(x_noisy)
            compute[m] += time.perf_counter() - t0
            cpu[m] += time.process_time() - c0
            y = np.asarray(y, np.float32)[: x.size]
            scores[m][noise][snr].append((pesq_nb(y, x, SR), stoi(y, x, SR), si_sdr(y, x)))
    wall = time.time() - t_start

    results = {
        "protocol": "BENCHMARKS.md §2",
        "items": args.items,
        "snrs": list(SNRS),
        "seed": 0,
        "device": f"cpu ({platform.processor() or platform.machine()}), torch threads {args.threads}",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "wall_s": round(wall, 1),
        "methods": {},
    }
    for m in meths:
        entry = {
            "rtf": None if m == "noisy" else compute[m] / audio_s,
            "cpu_rtf": None if m == "noisy" else cpu[m] / audio_s,
        }
        for nz in NOISES:
            per_snr = {s: np.mean(scores[m][nz][s], axis=0).tolist() for s in SNRS}
            entry[nz] = {
                "per_snr": {str(s): dict(zip(("pesq", "stoi", "si_sdr"), v)) for s, v in per_snr.items()},
                "mean": dict(zip(("pesq", "stoi", "si_sdr"), np.mean(list(per_snr.values()), axis=0).tolist())),
            }
        results["methods"][m] = entry

    print(f"\n{args.items} items x {len(NOISES)} noises x SNR {SNRS} dB; mean over SNRs (per SNR in the JSON)\n")
    print("| method | white PESQ / STOI / SI-SDR | dishes PESQ / STOI / SI-SDR | RTF (wall) | RTF (CPU time) |")
    print("|---|---|---|---|---|")
    for m, e in results["methods"].items():
        cells = [
            " / ".join(
                [f"{e[nz]['mean']['pesq']:.2f}", f"{e[nz]['mean']['stoi']:.3f}", f"{e[nz]['mean']['si_sdr']:.1f}"]
            )
            for nz in NOISES
        ]
        rtf = "– | –" if e["rtf"] is None else f"{e['rtf']:.4f} | {e['cpu_rtf']:.4f}"
        print(f"| {m} | {cells[0]} | {cells[1]} | {rtf} |")
    print("\nper SNR (PESQ / STOI / SI-SDR):")
    for nz in NOISES:
        for s in SNRS:
            row = ", ".join(
                f"{m}: {e[nz]['per_snr'][str(s)]['pesq']:.2f}/{e[nz]['per_snr'][str(s)]['stoi']:.3f}/"
                f"{e[nz]['per_snr'][str(s)]['si_sdr']:.1f}"
                for m, e in results["methods"].items()
            )
            print(f"  {nz} {s:>2} dB  {row}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
