"""``daekit image ...``: denoise, train, add-noise, compare, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import checks
from . import group_help, options

if TYPE_CHECKING:
    import numpy as np
    from tqdm import tqdm


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    image = sub.add_parser(
        "image",
        help="image denoising: denoise, train, add-noise, compare, demo",
        description="Denoise photos and scans with the bundled models or your own, train a "
        "model on a folder of clean images, make noisy test images, and compare "
        "results side by side.",
    )
    isub = image.add_subparsers(dest="image_command", metavar="COMMAND")

    p = isub.add_parser(
        "denoise",
        help="denoise image files or folders",
        description="Denoise each input image (PNG, JPEG, TIFF, BMP; gray, RGB or RGBA; 8- or "
        "16-bit) and write the result with the same name, bit depth and alpha. A "
        "file that fails is reported and the others still get done; the exit code "
        "is 1 when any failed.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders of images")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or an output file name when there is one input file)",
    )
    p.add_argument(
        "--model",
        default="auto",
        help="'gray', 'color' (both for white noise), 'photo' (real camera noise), a model folder, or 'auto': "
        "'photo' for colour images, 'gray' for gray ones",
    )
    p.add_argument(
        "--sigma",
        type=options.sigma_255,
        default=None,
        help="noise std on the 0-255 scale when known (default: estimated per image)",
    )
    p.add_argument(
        "--strength",
        type=options.probability,
        default=1.0,
        help="how much of the denoising to apply, 0-1: output = strength x denoised + (1 - strength) x input "
        "(lower it to keep some grain; default 1)",
    )
    p.add_argument(
        "--tile",
        type=options.number(checks.TILE),
        default=512,
        help="tile side for large images (memory ~ tile x width)",
    )
    p.add_argument("--overlap", type=options.count, default=32, help="pixels shared by neighbouring tiles")
    p.add_argument(
        "--ensemble",
        type=options.positive_int,
        default=None,
        choices=range(1, 9),
        metavar="K",
        help="denoise each tile in K of its 8 flips/rotations and average: a little better, K times "
        "slower (default: the model's own setting; the bundled ones use 3)",
    )
    p.add_argument("--device", type=options.device, default="cpu", help="cpu, cuda or auto")
    p.add_argument("--recursive", action="store_true", help="look into sub-folders too")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_denoise)

    from ..train import add_train_arguments

    p = isub.add_parser(
        "train",
        help="train a blind Gaussian denoiser on a folder of clean images",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an image denoiser on clean images: patches are cut and corrupted "
        "with white Gaussian noise (sigma drawn per patch from [0, --std-max]) on the "
        "training device. Writes the run and the model folder to --out.",
    )
    p.add_argument("data", nargs="+", metavar="DIR", help="folders (or files) of clean training images")
    p.add_argument("--out", required=True, metavar="RUN", help="run and model folder")
    p.add_argument("--channels", type=options.positive_int, choices=(1, 3), default=1, help="1 gray, 3 colour")
    p.add_argument("--preset", choices=("cpu", "gpu"), default="cpu", help="model size (see recipes/image.md)")
    p.add_argument("--patch", type=options.number(checks.PATCH), default=64, help="training patch side")
    p.add_argument(
        "--tile",
        type=options.number(checks.PATCH),
        default=128,
        help="side of the in-memory tiles patches are cut from",
    )
    p.add_argument("--std-max", type=options.sigma_255, default=55.0, help="top of the noise range, 0-255 scale")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = isub.add_parser(
        "add-noise",
        help="add white Gaussian noise to images (to make test data)",
        description="Add white Gaussian noise of std --sigma (0-255 scale) to each image; the "
        "result is clipped and rounded to the input's bit depth (alpha kept).",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (or file for one input)")
    p.add_argument("--sigma", type=options.sigma_255, required=True, help="noise std on the 0-255 scale")
    p.add_argument("--seed", type=options.seed, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_add_noise)

    p = isub.add_parser(
        "compare",
        help="side-by-side picture with PSNR/SSIM written on it",
        description="Put CLEAN and the other images side by side in one PNG, each captioned with "
        "its PSNR and SSIM against CLEAN.",
    )
    p.add_argument("clean", metavar="CLEAN", help="the clean reference image")
    p.add_argument("others", nargs="+", metavar="IMAGE", help="e.g. NOISY DENOISED")
    p.add_argument("-o", "--output", required=True, metavar="GRID.png", help="the picture to write")
    p.set_defaults(func=cmd_compare)

    p = isub.add_parser(
        "demo",
        help="denoise a generated picture with the bundled gray model",
        description="Add noise to a generated test picture, denoise it with the bundled gray "
        "model, print the PSNR gain and write a before/after picture.",
    )
    p.add_argument("--out", default="runs/image_demo", metavar="DIR", help="where to write image_demo.png")
    p.add_argument("--sigma", type=options.sigma_255, default=25.0, help="noise std on the 0-255 scale")
    p.set_defaults(func=cmd_demo)

    image.set_defaults(func=group_help(image))


# -- helpers -----------------------------------------------------------------------------


def _plan(inputs: list[str], output: str, recursive: bool = False) -> list[tuple[Path, Path]]:
    """(source, destination) pairs: one file to a file name, else into the output folder
    (keeping paths relative to each input folder)."""
    from ..data.image import IMAGE_EXTENSIONS, list_images
    from ..io import check_output_file, check_output_folder

    out = Path(output)
    if len(inputs) == 1 and Path(inputs[0]).is_file() and out.suffix.lower() in IMAGE_EXTENSIONS and not out.is_dir():
        return [(Path(inputs[0]), check_output_file(out))]
    pairs = []
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            pairs += [(f, out / f.relative_to(root)) for f in list_images(root, recursive)]
        elif root.is_file():
            pairs.append((root, out / root.name))
        else:
            raise FileNotFoundError(2, "no such file or folder", str(root))
    if not pairs:
        raise ValueError(f"no image files (PNG, JPEG, TIFF, BMP) in {', '.join(inputs)}.")
    check_output_folder(out)  # once, exit 2, rather than the same failure for every image
    return pairs


def _bar(total: int, quiet: bool, unit: str = "image") -> tqdm[Any]:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, disable=quiet, dynamic_ncols=True, file=sys.stderr)


def _run_each(pairs: list[tuple[Path, Path]], work: Callable[[Path, Path], None], quiet: bool) -> int:
    """Apply ``work(src, dst)`` to each pair; report failures and go on. Exit 1 if any failed."""
    from .. import cli

    failed = 0
    with _bar(len(pairs), quiet) as bar:
        for src, dst in pairs:
            try:
                if dst.exists() and dst.resolve() == src.resolve():
                    raise ValueError(f"{src}: the output would overwrite the input; choose another -o.")
                work(src, dst)
            except (ValueError, OSError, ImportError) as e:
                failed += 1
                message = cli.error_sentence(e)
                if str(src) not in message:
                    message = f"{src}: {message}"
                bar.write(f"daekit: error: {message}", file=sys.stderr)
            bar.update(1)
    if failed:
        print(f"daekit: {failed} of {len(pairs)} images failed.", file=sys.stderr)
    return 1 if failed else 0


# -- commands ----------------------------------------------------------------------------


def cmd_denoise(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..apps.image import ImageDenoiser, default_model_name
    from ..data.image import read_image, write_image

    pairs = _plan(args.inputs, args.output, args.recursive)
    cache: dict[str, ImageDenoiser] = {}

    def model_for(arr: np.ndarray | None) -> ImageDenoiser:
        name = args.model
        if name == "auto":
            name = default_model_name(arr is not None and arr.ndim == 3 and arr.shape[2] >= 3)
        if name not in cache:
            options = {} if args.ensemble is None else {"ensemble": args.ensemble}
            cache[name] = ImageDenoiser.from_pretrained(
                name, tile=args.tile, overlap=args.overlap, device=args.device, **options
            )
        return cache[name]

    if args.model not in ("auto", "gray", "color", "photo"):  # a bad model folder fails before any image is read
        model_for(None)

    def work(src: Path, dst: Path) -> None:
        arr = read_image(src)
        model = model_for(arr)
        write_image(dst, model(arr, sigma=args.sigma, strength=args.strength))
        if args.sigma is None and not args.quiet:
            levels = [s for s in model.last_sigma_ if s is not None]
            if levels:
                said = (
                    "no noise detected"
                    if max(levels) == 0
                    else "estimated noise σ " + ", ".join(f"{s:.1f}" for s in levels) + " (0-255)"
                )
                tqdm.write(f"{src}: {said}", file=sys.stderr)

    return _run_each(pairs, work, args.quiet)


def cmd_train(args: argparse.Namespace) -> int:
    from ..apps.image import DEFAULT_MODELS, train_image_denoiser
    from ..io import check_output_folder
    from ..train import config_from_args

    check_output_folder(args.out)  # a bad --out is refused before the images are read
    config = config_from_args(
        args,
        out_dir=args.out,
        max_steps=2000,
        batch_size=16,
        lr=1e-3,
        schedule="cosine",
        min_lr=1e-5,
        grad_clip=1.0,
        val_every=250,
    )
    den = train_image_denoiser(
        args.data,
        args.out,
        channels=args.channels,
        model=DEFAULT_MODELS[args.preset],
        patch_size=args.patch,
        tile=args.tile,
        std_max=args.std_max,
        config=config,
    )
    print(
        f"saved the image denoiser to {args.out} ({den.training.get('steps')} steps); use it with "
        f"'daekit image denoise IN -o OUT --model {args.out}'"
    )
    return 0


def cmd_add_noise(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data.image import from_float, read_image, to_float, write_image

    pairs = _plan(args.inputs, args.output)
    rng = np.random.default_rng(args.seed)

    def work(src: Path, dst: Path) -> None:
        arr = read_image(src)
        x = to_float(arr)
        colour = x[..., :-1] if x.ndim == 3 and x.shape[2] in (2, 4) else x
        noisy = from_float(colour + args.sigma / 255 * rng.standard_normal(colour.shape), arr.dtype)
        if colour is not x:
            noisy = np.concatenate([noisy, arr[..., -1:]], axis=2)
        write_image(dst, noisy)

    return _run_each(pairs, work, args.quiet)


def cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np

    from ..apps.image import compare_grid
    from ..data.image import read_image, write_image
    from ..io import check_output_file
    from ..metrics import psnr, ssim

    check_output_file(args.output)
    clean = read_image(args.clean)
    others = [read_image(p) for p in args.others]
    top = 65535.0 if clean.dtype == np.uint16 else 255.0
    labels = [f"{Path(args.clean).name} (clean)"]
    for path, img in zip(args.others, others):
        if img.shape != clean.shape:
            raise ValueError(f"{path} is {img.shape} but {args.clean} is {clean.shape}: compare needs equal sizes.")
        a = img.astype(np.float64) * (top / (65535.0 if img.dtype == np.uint16 else 255.0))
        b = clean.astype(np.float64)
        if a.ndim == 3 and a.shape[2] in (2, 4):  # alpha is not part of the picture's quality
            a, b = a[..., :-1], b[..., :-1]
        p, s = psnr(a, b, top), ssim(a, b, top)
        labels.append(f"{Path(path).name}  {p:.2f} dB  SSIM {s:.3f}")
        print(f"{path}: PSNR {p:.2f} dB, SSIM {s:.4f}")
    write_image(args.output, compare_grid([clean] + others, labels))
    print(f"wrote {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..apps.image import demo

    demo(args.out, sigma=args.sigma)
    return 0
