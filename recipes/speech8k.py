"""Train the shipped 8 kHz speech enhancer: ``src/daekit/pretrained/speech8k``.

Data (BENCHMARKS.md §2 rules): the FSDD training split (recordings with index >= 5),
the first 70 % of ``doing_the_dishes.wav`` (resampled to 8 kHz), and noises made here:
white, pink, brown and mains hum (synthesised on the fly by ``MixAtSNR``) and babble
built from training-split speech. No ESC-50 clip and no test recording is used.

Usage (see recipes/speech8k.md for the run that made the shipped weights):
    nice -n 10 .venv/bin/python recipes/speech8k.py --data ../shared/data/audio \
        --steps 6000 --run-dir /tmp/speech8k_run --out src/daekit/pretrained/speech8k
Re-running with the same --run-dir resumes from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import daekit as dk
from daekit.apps.speech import SpeechEnhancer, SpeechObjective, train_speech_dae  # noqa: F401
from daekit.data.audio import fsdd_files, load_audio, load_noise_bank, speech_items
from daekit.train import TrainConfig

SAMPLE_RATE = 8000


def babble_tracks(
    clips_by_speaker: dict, n_tracks: int, seconds: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> list:
    """Tracks of 3-6 overlapping talkers, each a stream of random training clips."""
    length = int(seconds * sample_rate)
    all_clips = [c for clips in clips_by_speaker.values() for c in clips]
    tracks = []
    for _ in range(n_tracks):
        track = np.zeros(length, np.float32)
        for _ in range(rng.integers(3, 7)):
            parts, total = [], 0
            while total < length:
                c = all_clips[rng.integers(len(all_clips))]
                c = c / (np.sqrt(np.mean(c**2)) + 1e-8)
                parts.append(c)
                total += c.size
            track += np.concatenate(parts)[:length]
        tracks.append(track / np.sqrt(np.mean(track**2)))
    return tracks


def export_checkpoint(args, sample_rate: int = SAMPLE_RATE, n_fft: int = 256) -> int:
    """Write the model folder from the Trainer's last checkpoint (weights only)."""
    ck = torch.load(Path(args.run_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
    model = dk.create_model(
        "speech_mask",
        n_fft=n_fft,
        hop_length=n_fft // 4,
        hidden_size=args.hidden,
        num_layers=args.layers,
        causal=not args.bidirectional,
    )
    prefix = "dae.model."
    model.load_state_dict({k[len(prefix) :]: v for k, v in ck["model"].items() if k.startswith(prefix)})
    dae = dk.DenoisingAutoencoder(model, noise=dk.noise.MixAtSNR(["white"]), preprocessing={"sample_rate": sample_rate})
    SpeechEnhancer(dae).save_pretrained(args.out, recipe={"checkpoint_step": ck["step"], "run_dir": args.run_dir})
    print(f"exported step {ck['step']} to {args.out}")
    return 0


def train_config(args) -> TrainConfig:
    """The Trainer settings both speech recipes use: cosine schedule, clipping, checkpoints every 250 steps."""
    return TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="cosine",
        warmup_steps=args.warmup,
        min_lr=args.lr / 100,
        grad_clip=1.0,
        val_every=500,
        ckpt_every=250,
        out_dir=args.run_dir,
        seed=args.seed,
        device="cpu",
        quiet=args.quiet,
        tensorboard=False,
        log_every=50,
    )


def starting_dae(args):
    """The ``--init`` model in training mode (None without it), widened to look ahead when
    ``--bidirectional`` asks for it and the model is causal."""
    if not args.init:
        return None
    start = SpeechEnhancer.from_pretrained(args.init).dae.train()
    if args.bidirectional and start.model.causal:
        from daekit.models.speech import to_bidirectional

        start.model = to_bidirectional(start.model).train()
    return start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/audio", help="folder with fsdd/ and noise_speech_commands/")
    ap.add_argument("--out", default="src/daekit/pretrained/speech8k", help="model folder to write")
    ap.add_argument("--run-dir", default="/tmp/speech8k_run", help="Trainer folder (checkpoints, metrics.csv)")
    ap.add_argument("--steps", type=int, default=6000, help="optimiser steps")
    ap.add_argument("--batch-size", type=int, default=32, help="items per step")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine to 1 %% of it)")
    ap.add_argument("--items", type=int, default=4000, help="clean training items of --seconds each")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of a training item")
    ap.add_argument("--hidden", type=int, default=192, help="GRU width")
    ap.add_argument("--layers", type=int, default=2, help="GRU layers")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0, help="seed for data, noise and initialisation")
    ap.add_argument(
        "--noise-weights", default="0.30,0.08,0.07,0.05,0.30,0.20", help="weights of white,pink,brown,hum,dishes,babble"
    )
    ap.add_argument(
        "--init",
        default=None,
        metavar="FOLDER",
        help="start from this model folder's weights (a second stage; fresh optimiser and schedule)",
    )
    ap.add_argument(
        "--bidirectional",
        action="store_true",
        help="train the offline model, which also looks ahead (files only, cannot stream); "
        "with a causal --init it starts as that model, widened (models.speech.to_bidirectional)",
    )
    ap.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    ap.add_argument(
        "--sisdr-weight", type=float, default=0.0, help="add this weight x (minus SI-SDR in dB) to the spectral loss"
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument(
        "--export-checkpoint",
        action="store_true",
        help="only write --out from the latest checkpoint in --run-dir (to evaluate a run in progress)",
    )
    args = ap.parse_args(argv)
    if args.export_checkpoint:
        return export_checkpoint(args)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    data = Path(args.data)

    by_speaker = {
        s: [load_audio(f, SAMPLE_RATE)[0] for f in files] for s, files in fsdd_files(data / "fsdd", "train").items()
    }
    rng = np.random.default_rng(args.seed)
    length = int(args.seconds * SAMPLE_RATE)
    clean = torch.from_numpy(speech_items(by_speaker, args.items, length, SAMPLE_RATE, seed=args.seed))
    val = torch.from_numpy(speech_items(by_speaker, 128, length, SAMPLE_RATE, seed=args.seed + 1))
    dishes = load_noise_bank([data / "noise_speech_commands" / "doing_the_dishes.wav"], SAMPLE_RATE, span=(0.0, 0.7))
    babble = babble_tracks(by_speaker, 8, 20.0, rng)
    bank = ["white", "pink", "brown", "hum"] + [torch.from_numpy(t) for t in dishes + babble]
    w = [float(v) for v in args.noise_weights.split(",")]
    if len(w) != 6:
        raise SystemExit("--noise-weights needs 6 numbers: white,pink,brown,hum,dishes,babble")
    weights = w[:5] + [w[5] / len(babble)] * len(babble)

    config = train_config(args)
    start = starting_dae(args)
    dae = train_speech_dae(
        clean,
        bank,
        SAMPLE_RATE,
        config,
        snr_db=(-5.0, 15.0),
        p=weights,
        val=val,
        dae=start,
        sisdr_weight=args.sisdr_weight,
        model_kwargs={
            "n_fft": 256,
            "hop_length": 64,
            "hidden_size": args.hidden,
            "num_layers": args.layers,
            "causal": not args.bidirectional,
        },
    )
    minutes = (time.time() - t0) / 60
    recipe = {
        "command": "recipes/speech8k.py " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "train_items": args.items,
        "item_seconds": args.seconds,
        "wall_minutes": round(minutes, 1),
        "data": "FSDD index>=5, first 70% of doing_the_dishes.wav, synthetic white/pink/brown/hum, "
        "babble from FSDD training clips",
    }
    SpeechEnhancer(dae).save_pretrained(args.out, recipe=recipe)
    print(json.dumps(recipe))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
