"""Train the bundled colour image denoiser (``src/daekit/pretrained/color``).

Training data (no test image among them; CBSD68 is test-only):
* the colour photos that ship with scikit-image (``skimage/data``: astronaut, chelsea,
  coffee, hubble_deep_field, ihc, retina, rocket, motorcycle_left/right; public-domain or
  CC0 per scikit-image's data README), cut into 128×128 tiles, at most 60 per photo;
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


def colour_bank(train400: str, tile: int = 128) -> torch.Tensor:
    import skimage

    folder = Path(os.path.dirname(skimage.__file__)) / "data"
    photos = load_tiles([folder / n for n in SKIMAGE_COLOUR], tile=tile, channels=3, max_tiles_per_image=60)
    gray = load_tiles(train400, tile=tile, channels=3)
    print(f"colour bank: {len(photos)} colour tiles + {len(gray)} gray tiles of {tile}×{tile}")
    return torch.cat([photos, gray])


if __name__ == "__main__":
    args = parse(channels=3)
    if args.from_checkpoint:
        export_checkpoint(args, 3)
    else:
        args.data = [f"skimage/data/{n}" for n in SKIMAGE_COLOUR] + list(args.data)  # recorded in config.json
        run(args, channels=3, tiles=colour_bank(args.data[-1], tile=128))
