"""Train the shipped 16 kHz speech enhancer: ``src/daekit/pretrained/speech16k``.

Data (BENCHMARKS.md §2 rules; every speaker of the test parts is left out):

* speech: ``audio/wideband/librispeech/train/`` (191 speakers, 39 min; CC BY 4.0,
  LibriSpeech, Panayotov et al. 2015), ``wideband/ljspeech/train/`` (one speaker, 3.7 min;
  public domain) and the ``wideband/speech_commands/train/`` words (CC BY 4.0, Warden 2018)
  whose measured bandwidth reaches 6 kHz and whose noise floor is 35 dB or more below the
  clip's loudest frames (106 of 1,494). Continuous speech is weighted up: items are 80 % LibriSpeech,
  10 % LJSpeech and 10 % Speech Commands words;
* room reverberation on a share of the items (``--reverb``): shoebox rooms simulated by
  ``pyroomacoustics`` (RT60 0.2-0.8 s). The target is the reverberant speech: the model
  learns to keep the room and remove the noise;
* noise, mixed on the fly by ``MixAtSNR``: synthetic white, pink, brown and hum; the first
  70 % of the five ``audio/noise_speech_commands/`` recordings (CC BY 4.0, Speech Commands
  background noise); babble built from LibriSpeech training speakers;
* validation: ``librispeech/val`` and ``vctk16/val`` speakers (none in training), with the
  training noises.

Not used: ``librispeech/test``, ``vctk48/test``, the last 30 % of the noise files,
``vbdemand_test`` (evaluation only), ESC-50. The attribution table of the sources is
``../shared/data/audio/wideband/README.md``; keep it with anything derived from the data.

Needs ``pip install pyroomacoustics`` (the room simulation) besides daekit's ``audio`` extra.

Usage (recipes/speech16k.md gives the runs that made the shipped weights):
    nice -n 5 .venv/bin/python recipes/speech16k.py --data ../shared/data/audio \\
        --steps 3000 --run-dir /tmp/speech16k_run --out src/daekit/pretrained/speech16k
Re-running with the same --run-dir resumes from its checkpoint; ``--export-checkpoint``
writes the model folder from a run in progress; ``--init FOLDER`` starts a next stage.
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

from speech8k import babble_tracks, export_checkpoint, starting_dae, train_config

from daekit.apps.speech import SpeechEnhancer, train_speech_dae
from daekit.data.audio import list_audio_files, load_audio, load_noise_bank, speech_items

SAMPLE_RATE = 16000
N_FFT = 512  # 32 ms window, 8 ms hop: the algorithmic latency is one window
NOISE_FILES = ("doing_the_dishes", "dude_miaowing", "running_tap", "pink_noise", "white_noise")


def clip_quality(wave: np.ndarray) -> tuple[float, float]:
    """(the frequency below which 99 % of the clip's energy lies, in Hz; the noise floor in dB
    below the loudest frames: the 10th against the 95th percentile of 32 ms frame energies)."""
    from scipy.signal import stft

    _, _, spec = stft(wave, SAMPLE_RATE, nperseg=512, noverlap=384)
    power = np.abs(spec) ** 2
    cumulative = np.cumsum(power.sum(axis=1))
    edge = float(np.searchsorted(cumulative, 0.99 * cumulative[-1]) * SAMPLE_RATE / 512)
    frames = power.sum(axis=0) + 1e-12
    floor_db = float(10 * np.log10(np.percentile(frames, 95) / np.percentile(frames, 10)))
    return edge, floor_db


def speech_by_source(wide: Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """Training clips by source and speaker (a Speech Commands clip is its own speaker:
    the file names do not say who spoke)."""
    libri: dict[str, list[np.ndarray]] = {}
    for f in list_audio_files(wide / "librispeech" / "train"):
        libri.setdefault(f.name.split("-")[0], []).append(load_audio(f, SAMPLE_RATE)[0])
    lj = {"lj": [load_audio(f, SAMPLE_RATE)[0] for f in list_audio_files(wide / "ljspeech" / "train")]}
    words: dict[str, list[np.ndarray]] = {}
    for f in list_audio_files(wide / "speech_commands" / "train"):
        wave = load_audio(f, SAMPLE_RATE)[0]
        edge, floor_db = clip_quality(wave)
        if edge >= 6000 and floor_db >= 35:
            words[f"{f.parent.name}/{f.stem}"] = [wave]
    return {"librispeech": libri, "ljspeech": lj, "speech_commands": words}


def room_impulse_responses(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Impulse responses of random shoebox rooms (image source method), RT60 0.2-0.8 s."""
    import pyroomacoustics as pra

    out = []
    for _ in range(n):
        dim = rng.uniform([3.0, 3.0, 2.4], [9.0, 7.0, 3.5])
        absorption, order = pra.inverse_sabine(rng.uniform(0.2, 0.8), dim)
        room = pra.ShoeBox(dim, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, 25))
        room.add_source(rng.uniform(0.5, dim - 0.5))
        room.add_microphone(rng.uniform(0.5, dim - 0.5))
        room.compute_rir()
        out.append(np.asarray(room.rir[0][0], np.float32))
    return out


def reverberate(items: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve a ``share`` of the items with random room responses, keeping each item's level."""
    from scipy.signal import fftconvolve

    if share <= 0:
        return items
    rirs = room_impulse_responses(64, rng)
    for i in np.flatnonzero(rng.random(len(items)) < share):
        x = items[i, 0]
        y = fftconvolve(x, rirs[rng.integers(len(rirs))])[: x.size]
        items[i, 0] = y * (np.sqrt(np.mean(x**2)) / (np.sqrt(np.mean(y**2)) + 1e-9))
    return items


def training_items(sources: dict, n_items: int, length: int, seed: int) -> np.ndarray:
    shares = {"librispeech": 0.80, "ljspeech": 0.10, "speech_commands": 0.10}
    parts = []
    for k, (name, share) in enumerate(shares.items()):
        if sources[name]:
            parts.append(speech_items(sources[name], int(round(share * n_items)), length, SAMPLE_RATE, seed=seed + k))
    return np.concatenate(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/audio", help="folder with wideband/ and noise_speech_commands/")
    ap.add_argument("--out", default="src/daekit/pretrained/speech16k", help="model folder to write")
    ap.add_argument("--run-dir", default="/tmp/speech16k_run", help="Trainer folder (checkpoints, metrics.csv)")
    ap.add_argument("--steps", type=int, default=3000, help="optimiser steps")
    ap.add_argument("--batch-size", type=int, default=32, help="items per step")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine to 1 %% of it)")
    ap.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    ap.add_argument("--items", type=int, default=6000, help="clean training items of --seconds each")
    ap.add_argument("--seconds", type=float, default=1.5, help="length of a training item")
    ap.add_argument("--reverb", type=float, default=0.3, help="share of the items given room reverberation")
    ap.add_argument("--hidden", type=int, default=192, help="GRU width")
    ap.add_argument("--layers", type=int, default=2, help="GRU layers")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0, help="seed for data, noise and initialisation")
    ap.add_argument(
        "--noise-weights",
        default="0.20,0.08,0.05,0.04,0.43,0.20",
        help="weights of white,pink,brown,hum,the recorded noises (shared equally),babble",
    )
    ap.add_argument("--init", default=None, metavar="FOLDER", help="start from this model folder (a next stage)")
    ap.add_argument("--bidirectional", action="store_true", help="the offline model (see recipes/speech8k.py)")
    ap.add_argument("--sisdr-weight", type=float, default=0.0, help="weight x (minus SI-SDR in dB) added to the loss")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--export-checkpoint", action="store_true", help="only write --out from --run-dir's checkpoint")
    args = ap.parse_args(argv)
    if args.export_checkpoint:
        return export_checkpoint(args, SAMPLE_RATE, N_FFT)
    w = [float(v) for v in args.noise_weights.split(",")]
    if len(w) != 6 or min(w) < 0 or sum(w) <= 0:
        raise SystemExit("--noise-weights needs 6 non-negative numbers: white,pink,brown,hum,recorded,babble")
    if not 0.0 <= args.reverb <= 1.0:
        raise SystemExit(f"--reverb {args.reverb} is not a share in [0, 1].")
    if args.reverb > 0:
        try:
            import pyroomacoustics  # noqa: F401
        except ImportError:
            raise SystemExit("--reverb needs pyroomacoustics: pip install it, or pass --reverb 0.") from None
    torch.set_num_threads(args.threads)
    t0 = time.time()
    data = Path(args.data)
    wide = data / "wideband"
    rng = np.random.default_rng(args.seed)

    sources = speech_by_source(wide)
    length = int(args.seconds * SAMPLE_RATE)
    clean = reverberate(training_items(sources, args.items, length, args.seed), args.reverb, rng)
    val_speakers: dict[str, list[np.ndarray]] = {}
    for f in list_audio_files(wide / "librispeech" / "val") + list_audio_files(wide / "vctk16" / "val"):
        val_speakers.setdefault(f.name.split("-")[0].split("_")[0], []).append(load_audio(f, SAMPLE_RATE)[0])
    val = speech_items(val_speakers, 128, length, SAMPLE_RATE, seed=args.seed + 100)

    recorded = load_noise_bank(
        [data / "noise_speech_commands" / f"{n}.wav" for n in NOISE_FILES], SAMPLE_RATE, span=(0.0, 0.7)
    )
    babble = babble_tracks(sources["librispeech"], 8, 20.0, rng, SAMPLE_RATE)
    bank = ["white", "pink", "brown", "hum"] + [torch.from_numpy(t) for t in recorded + babble]
    weights = w[:4] + [w[4] / len(recorded)] * len(recorded) + [w[5] / len(babble)] * len(babble)

    config = train_config(args)
    start = starting_dae(args)
    dae = train_speech_dae(
        torch.from_numpy(clean),
        bank,
        SAMPLE_RATE,
        config,
        snr_db=(-5.0, 20.0),
        p=weights,
        val=torch.from_numpy(val),
        dae=start,
        sisdr_weight=args.sisdr_weight,
        model_kwargs={
            "n_fft": N_FFT,
            "hop_length": N_FFT // 4,
            "hidden_size": args.hidden,
            "num_layers": args.layers,
            "causal": not args.bidirectional,
        },
    )
    recipe = {
        "command": "recipes/speech16k.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "train_items": args.items,
        "item_seconds": args.seconds,
        "speakers": {name: len(v) for name, v in sources.items()},
        "wall_minutes": round((time.time() - t0) / 60, 1),
        "data": "LibriSpeech train-clean-100 (CC BY 4.0), LJSpeech (public domain), Speech Commands words "
        "(CC BY 4.0) filtered by bandwidth and noise floor; noise: Speech Commands background noise, first 70 % "
        "(CC BY 4.0), synthetic white/pink/brown/hum, babble from LibriSpeech training speakers; "
        f"pyroomacoustics shoebox reverberation on {args.reverb:.0%} of the items",
    }
    SpeechEnhancer(dae).save_pretrained(args.out, recipe=recipe)
    print(json.dumps(recipe))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
