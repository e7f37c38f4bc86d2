"""Train the bundled colour image denoiser (``src/daekit/pretrained/color``).

Training data (no test image among them; CBSD68 is test-only):
* the colour photos that ship with scikit-image (``skimage/data``: astronaut, chelsea,
  coffee, hubble_deep_field, ihc, retina, rocket, motorcycle_left/right; public-domain or
  CC0 per scikit-image's data README), cut into 128×128 tiles, at most 60 per photo;
  with ``--more-colour`` also scikit-learn's china.jpg and flower.jpg (CC BY 2.0) and
  matplotlib's grace_hopper.jpg (US Navy photo, public domain);
* Train400 (gray BSDS crops, disjoint from CBSD68/BSD68) as gray RGB tiles, so the net
  also sees many natural textures.
* with ``--photos DIR...`` also the colour photos in those folders, each scaled down so
  its longer side is 1024 pixels (closer to the scale of BSDS photos, and what little
  noise or JPEG blockiness they hold is averaged away), at most 40 tiles per photo.
  Stage 4 used the nature photos of Debian's ``mate-backgrounds`` (GPL-2+) and the
  photos of ``lomiri-wallpapers-16.04`` (CC BY 4.0 / CC BY-SA 4.0); recipes/image.md
  says how to unpack them.
Blind white Gaussian noise, σ drawn per patch from [0, 55], independent per channel.

``--opponent`` starts from a gray model (``--init``, e.g. ``gray``) run in the opponent
colour space (``ImageDenoiser.as_colour``): one single-channel net for the luminance and
both chrominance planes, fine-tuned here on colour.

CPU runs that made the shipped weights: this one (26.7 min), then 5,000 more steps from
its output with ``--seed 1 --init runs/image_color_s4/model`` (41 min). recipes/image.md
has the exact commands, the earlier RGB-space stages, and how to unpack the two Debian
packages into ``photos/``:

    nice -n 5 .venv/bin/python recipes/image_color.py --steps 3500 --batch-size 8 --patch 96 --threads 1 \
        --lr 1e-4 --val-every 500 --quiet --more-colour \
        --photos photos/mate-backgrounds/usr/share/backgrounds/mate/nature \
                 photos/lomiri-wallpapers-16.04/usr/share/backgrounds \
        --init gray --opponent --out runs/image_color_s4 --export runs/image_color_s4/model

GPU run (what remains): train the gray model on the GPU first (recipes/image_gray.py), then
fine-tune it here in the opponent space, e.g.

    .venv/bin/python recipes/image_color.py --steps 20000 --batch-size 64 --patch 96 --lr 1e-4 \
        --device cuda --more-colour --photos photos/... --init runs/image_gray_gpu --opponent \
        --out runs/image_color_gpu --export src/daekit/pretrained/color

(``--model gpu`` without ``--opponent`` still trains an RGB-space net from scratch.)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from image_gray import export_checkpoint, parse, run

from daekit.data.image import load_tiles

SKIMAGE_COLOUR = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "retina.jpg",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
)


def more_colour_photos() -> list[Path]:
    """Three more colour photos that ship with dependencies (``--more-colour``)."""
    import matplotlib
    import sklearn

    sk = Path(os.path.dirname(sklearn.__file__)) / "datasets" / "images"
    mpl = Path(matplotlib.get_data_path()) / "sample_data"
    return [sk / "china.jpg", sk / "flower.jpg", mpl / "grace_hopper.jpg"]


def colour_bank(train400: str, tile: int = 128, more: bool = False, photos=()) -> torch.Tensor:
    import skimage

    folder = Path(os.path.dirname(skimage.__file__)) / "data"
    files = [folder / n for n in SKIMAGE_COLOUR] + (more_colour_photos() if more else [])
    bank = [load_tiles(files, tile=tile, channels=3, max_tiles_per_image=60)]
    if photos:
        bank.append(load_tiles(photos, tile=tile, channels=3, max_tiles_per_image=40, max_side=1024))
    gray = load_tiles(train400, tile=tile, channels=3)
    colour = sum(len(b) for b in bank)
    print(f"colour bank: {colour} colour tiles + {len(gray)} gray tiles of {tile}×{tile}")
    return torch.cat(bank + [gray])


def opponent_init(args) -> str:
    """Write --init's gray model as an opponent-space colour model into the run folder."""
    from daekit.apps.image import ImageDenoiser

    folder = Path(args.out) / "opponent_init"
    ImageDenoiser.from_pretrained(args.init).as_colour().save_pretrained(folder)
    return str(folder)


def colour_training_data(args) -> torch.Tensor:
    """The tile bank ``args`` ask for; ``args.data`` becomes what config.json records as the data."""
    extra = (
        [f"{p.parent.parent.name}/{p.parent.name}/{p.name}" for p in more_colour_photos()] if args.more_colour else []
    )
    train400 = args.data[-1]
    args.data = [f"skimage/data/{n}" for n in SKIMAGE_COLOUR] + extra + list(args.photos) + list(args.data)
    return colour_bank(train400, tile=128, more=args.more_colour, photos=args.photos)


if __name__ == "__main__":
    args = parse(channels=3)
    if args.from_checkpoint:
        export_checkpoint(args, 3)
    else:
        tiles = colour_training_data(args)
        if args.opponent:
            args.init = opponent_init(args)
        run(args, channels=3, tiles=tiles)
