"""Train the bundled gray image denoiser (``src/daekit/pretrained/gray``).

Blind white Gaussian noise, σ drawn per patch from [0, 55] (0–255 scale), on Train400
(400 gray 180×180 BSDS crops, disjoint from BSD68 and Set12). Patches are cut and
corrupted on the training device (see ``daekit.apps.image.PatchObjective``).

CPU run that made the shipped weights (see recipes/image.md for the time it took):

    nice -n 10 .venv/bin/python recipes/image_gray.py --model cpu --steps 6000 --threads 1 \
        --out runs/image_gray --export src/daekit/pretrained/gray

GPU run (what remains; bf16 autocast + channels_last + patches sampled on the GPU):

    .venv/bin/python recipes/image_gray.py --model gpu --steps 60000 --batch-size 128 \
        --patch 96 --device cuda --out runs/image_gray_gpu --export src/daekit/pretrained/gray
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from daekit.apps.image import DEFAULT_MODELS, train_image_denoiser
from daekit.data.image import load_tiles
from daekit.train import TrainConfig

HERE = Path(__file__).resolve().parent


def parse(argv=None, data_default=str(HERE.parent.parent / "shared/data/images/train400"), channels=1, name=None):
    """The recipes' shared options; ``name`` names the default run folder (runs/image_NAME)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=[data_default], help="folders of clean training images")
    name = name or ("gray" if channels == 1 else "color")
    p.add_argument("--out", default=f"runs/image_{name}", help="run folder")
    p.add_argument("--export", default=None, help="also write the final model folder here (fp16 weights)")
    p.add_argument("--model", choices=sorted(DEFAULT_MODELS), default="cpu", help="model size preset")
    p.add_argument("--steps", type=int, default=6000, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=16, help="patches per step")
    p.add_argument("--patch", type=int, default=64, help="patch side")
    p.add_argument("--tile", type=int, default=180, help="tile side of the in-memory bank")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine to 1e-5)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    p.add_argument("--val-every", type=int, default=500, help="validate every N steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--init",
        default=None,
        metavar="FOLDER",
        help="start from this model folder's (or bundled name's) weights: a further stage",
    )
    p.add_argument(
        "--from-checkpoint",
        action="store_true",
        help="do not train: turn --out/checkpoint.pt (e.g. of a run stopped early) into model folders",
    )
    if channels == 3:
        p.add_argument(
            "--more-colour",
            action="store_true",
            help="also train on the colour photos bundled with scikit-learn and matplotlib "
            "(china, flower: CC BY 2.0; grace_hopper: US Navy, public domain)",
        )
        p.add_argument(
            "--photos",
            nargs="*",
            default=[],
            metavar="DIR",
            help="folders of more colour photos, scaled to a longer side of 1024 pixels",
        )
        p.add_argument(
            "--opponent",
            action="store_true",
            help="--init is a gray model: start from it run in the opponent colour space",
        )
    return p.parse_args(argv)


def export_checkpoint(args, channels: int) -> None:
    """Model folder(s) from the last checkpoint of a run (the Trainer wraps the net in
    PatchObjective, so its weights sit under ``model.``)."""
    from daekit import create_model
    from daekit.apps.image import ImageDenoiser

    ck = torch.load(Path(args.out) / "checkpoint.pt", map_location="cpu", weights_only=True)
    if args.init:  # the run's network is --init's (in the opponent space with --opponent)
        start = ImageDenoiser.from_pretrained(args.init)
        net = (start.as_colour() if getattr(args, "opponent", False) else start).model.float()
    else:
        spec = DEFAULT_MODELS[args.model]
        net = create_model(spec["name"], in_channels=channels, **spec["kwargs"])
    state = ck["best"]["state"] if ck["best"]["state"] is not None else ck["model"]
    net.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
    den = ImageDenoiser(
        net.eval(),
        training={
            "steps": ck["step"],
            "batch_size": ck["config"]["batch_size"],
            "seed": ck["config"]["seed"],
            "best_val_mse": ck["best"]["val_loss"],
            "best_step": ck["best"]["step"],
            "patch_size": args.patch,
            "wall_seconds": round(ck["elapsed"], 1),
            "preset": args.model,
            "data": [str(d) for d in args.data],
            "from_checkpoint": True,
        },
    )
    den.save_pretrained(args.out)
    if args.export:
        den.save_pretrained(args.export, half=True)
    print(json.dumps(den.training, indent=1, default=str))


def run(args, channels: int = 1, tiles: torch.Tensor | None = None, noise=None) -> dict:
    """Train as ``args`` say; ``noise`` (a daekit noise process) replaces the Gaussian noise."""
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.backends.cudnn.benchmark = True
    if tiles is None:
        tiles = load_tiles(args.data, tile=args.tile, channels=channels)
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule="cosine",
        warmup_steps=min(500, args.steps // 20),
        min_lr=1e-5,
        grad_clip=1.0,
        seed=args.seed,
        device=args.device,
        precision="bf16" if cuda else "fp32",
        channels_last=cuda,
        val_every=args.val_every,
        log_every=50,
        quiet=args.quiet,
        tensorboard=False,
    )
    start = time.time()
    den = train_image_denoiser(
        tiles.to("cuda") if cuda else tiles,
        args.out,
        channels=channels,
        model=DEFAULT_MODELS[args.model],
        patch_size=args.patch,
        config=config,
        init=args.init,
        noise=noise,
    )
    seconds = time.time() - start
    den.training.update(
        {
            "wall_seconds": round(seconds, 1),
            "data": [str(d) for d in args.data],
            "device": torch.cuda.get_device_name() if cuda else "cpu",
            "preset": args.model,
            "init": args.init,
        }
    )
    den.save_pretrained(args.out)
    if args.export:
        den.save_pretrained(args.export, half=True)
    summary = {"seconds": seconds, "tiles": int(len(tiles)), **den.training}
    print(json.dumps(summary, indent=1, default=str))
    return summary


if __name__ == "__main__":
    cli_args = parse()
    export_checkpoint(cli_args, 1) if cli_args.from_checkpoint else run(cli_args)
