"""Train the bundled colour image denoiser (``src/daekit/pretrained/color``).

Training data (no test image among them; CBSD68 is test-only):
* the colour photos that ship with scikit-image (``skimage/data``: astronaut, chelsea,
  coffee, hubble_deep_field, ihc, retina, rocket, motorcycle_left/right; public-domain or
  CC0 per scikit-image's data README), cut into 128×128 tiles, at most 60 per photo;
  with ``--more-colour`` also scikit-learn's china.jpg and flower.jpg (CC BY 2.0) and
  matplotlib's grace_hopper.jpg (US Navy photo, public domain);
* Train400 (gray BSDS crops, disjoint from CBSD68/BSD68) as gray RGB tiles, so the net
  also sees many natural textures.
Blind white Gaussian noise, σ drawn per patch from [0, 55], independent per channel.

CPU run that made the shipped weights (time in recipes/image.md):

    nice -n 10 .venv/bin/python recipes/image_color.py --model cpu --steps 4000 --threads 1 \
        --out runs/image_color --export src/daekit/pretrained/color

GPU run (what remains):

    .venv/bin/python recipes/image_color.py --model gpu --steps 60000 --batch-size 128 \
        --patch 96 --device cuda --out runs/image_color_gpu --export src/daekit/pretrained/color
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from daekit.data.image import load_tiles
from image_gray import export_checkpoint, parse, run

SKIMAGE_COLOUR = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                  "retina.jpg", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png")


def more_colour_photos() -> list[Path]:
    """Three more colour photos that ship with dependencies (``--more-colour``)."""
    import matplotlib
    import sklearn

    sk = Path(os.path.dirname(sklearn.__file__)) / "datasets" / "images"
    mpl = Path(matplotlib.get_data_path()) / "sample_data"
    return [sk / "china.jpg", sk / "flower.jpg", mpl / "grace_hopper.jpg"]


def colour_bank(train400: str, tile: int = 128, more: bool = False) -> torch.Tensor:
    import skimage

    folder = Path(os.path.dirname(skimage.__file__)) / "data"
    files = [folder / n for n in SKIMAGE_COLOUR] + (more_colour_photos() if more else [])
    photos = load_tiles(files, tile=tile, channels=3, max_tiles_per_image=60)
    gray = load_tiles(train400, tile=tile, channels=3)
    print(f"colour bank: {len(photos)} colour tiles + {len(gray)} gray tiles of {tile}×{tile}")
    return torch.cat([photos, gray])


if __name__ == "__main__":
    args = parse(channels=3)
    if args.from_checkpoint:
        export_checkpoint(args, 3)
    else:
        extra = [f"{p.parent.parent.name}/{p.parent.name}/{p.name}" for p in more_colour_photos()] if args.more_colour else []
        args.data = [f"skimage/data/{n}" for n in SKIMAGE_COLOUR] + extra + list(args.data)  # recorded in config.json
        run(args, channels=3, tiles=colour_bank(args.data[-1], tile=128, more=args.more_colour))
