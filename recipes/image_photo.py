"""Train the bundled real-photo denoiser (``src/daekit/pretrained/photo``, issue 17).

The same network as ``color`` (the gray U-Net run in the opponent colour space), fine-tuned
from the ``color`` weights on camera noise: each patch is corrupted by one of

* ``dk.noise.Camera()`` with its default ranges (a mix of phones and DSLRs: unprocessing,
  Poisson–Gaussian raw noise, Bayer mosaic and demosaic, in-camera noise reduction, JPEG),
  its shot-noise range widened down to 2e-4 so that clean DSLR frames are common;
* ``dk.noise.Camera(**CAMERA_PRESETS["polyu"])``, the preset whose correlations were fitted
  on the PolyU *dev* pairs (the one real set the recipe may tune on; Nam-25 and the SIDD
  samples are held out, see ``benchmarks/images_real.py``);
* white Gaussian noise, σ uniform on [0, 55], so synthetic noise still works,

with weights ``--mix`` (default 0.45 / 0.25 / 0.30). The noise-level map is told the RMS of
``noisy − clean`` for half the patches and the blind estimate for the rest.

Training photos (none of them a test image; the real-noise pairs are evaluation only and
never train): the scikit-image colour photos, scikit-learn's china/flower (CC BY 2.0) and
matplotlib's grace_hopper (public domain) with ``--more-colour``, Train400 as gray RGB
tiles, and with ``--photos`` the photos of Debian's ``mate-backgrounds`` (GPL-2+) and
``lomiri-wallpapers-16.04`` (CC BY 4.0 / CC BY-SA 4.0; attribution: the photographers named
in each file name, e.g. ``Bridge_by_Sander_Klootwijk.jpg``). recipes/image.md says how to
unpack them and records the runs; the photos are never shipped.

    nice -n 5 .venv/bin/python recipes/image_photo.py --steps 6000 --batch-size 8 --patch 96 --threads 1 \\
        --lr 2e-4 --val-every 500 --quiet --more-colour \\
        --photos photos/mate-backgrounds/usr/share/backgrounds/mate/nature \\
                 photos/lomiri-wallpapers-16.04/usr/share/backgrounds \\
        --init color --out runs/image_photo_s1 --export runs/image_photo_s1/model

A further stage: the same with ``--init runs/image_photo_s1/model``. On a GPU, add
``--device cuda`` and raise ``--steps`` and ``--batch-size`` (e.g. 40,000 × 32).
"""

from __future__ import annotations

import argparse
import sys

from image_color import colour_training_data
from image_gray import export_checkpoint, parse, run

import daekit as dk
from daekit.apps.image import ImageDenoiser

#: Shot-noise range of the default camera in this recipe: Camera()'s, reaching down to 2e-4.
SHOT = (2e-4, 1.2e-2)


def photo_noise(mix: tuple[float, float, float]) -> dk.noise.Noise:
    """The training corruption: default camera, PolyU-dev camera, or white Gaussian noise."""
    return dk.noise.OneOf(
        [
            dk.noise.Camera(shot=SHOT),
            dk.noise.Camera(**dk.noise.CAMERA_PRESETS["polyu"]),
            dk.noise.Gaussian(std=(0.0, 55 / 255)),
        ],
        p=list(mix),
    )


def parse_photo_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This recipe's own options (``--mix``, ``--ensemble``); the rest go to image_gray's parser."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--mix", nargs=3, type=float, default=(0.45, 0.25, 0.30), metavar=("CAMERA", "POLYU", "AWGN"))
    p.add_argument("--ensemble", type=int, default=3, choices=range(1, 9), help="self-ensemble views of the export")
    own, rest = p.parse_known_args(argv)
    if min(own.mix) < 0 or sum(own.mix) <= 0:
        raise SystemExit(f"--mix {own.mix} must be three weights >= 0 with a positive sum.")
    return own, rest


if __name__ == "__main__":
    own, rest = parse_photo_options(sys.argv[1:])
    args = parse(rest, channels=3, name="photo")
    if args.from_checkpoint:
        export_checkpoint(args, 3)
        sys.exit(0)
    tiles = colour_training_data(args)
    noise = photo_noise(own.mix)
    export, args.export = args.export, None
    run(args, channels=3, tiles=tiles, noise=noise)
    den = ImageDenoiser.from_pretrained(args.out)
    den.ensemble = own.ensemble
    den.training["mix"] = dict(zip(("camera", "camera_polyu_dev", "awgn"), own.mix))
    den.save_pretrained(args.out)
    if export:
        den.save_pretrained(export, half=True)
        print(f"exported {export}")
