"""``daekit features ...``: learn DAE features, transform arrays, draw filters and code maps.

    daekit features fit X.npz --key x_train --out runs/feat
    daekit features transform runs/feat X.npz --key x_test -o Z.npy
    daekit features filters runs/feat -o filters.png
    daekit features map runs/feat X.npz --key x_test --labels X.npz --labels-key y_test -o codes.png

Inputs are ``.npy``, ``.npz`` (``--key`` names the array) or ``.csv``; image stacks
``(N, H, W)`` or ``(N, C, H, W)`` are flattened to rows and their shape is remembered for
the filter picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import checks
from . import group_help, options

if TYPE_CHECKING:
    from ..apps.features import DAEFeatureExtractor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "features",
        help="learn features with a (stacked) DAE; transform; plot filters",
        description="Unsupervised feature learning with denoising autoencoders "
        "(scikit-learn's DAEFeatureExtractor behind a command line).",
    )
    cmds = group.add_subparsers(dest="features_command", metavar="SUBCOMMAND")
    group.set_defaults(func=group_help(group))

    p = cmds.add_parser(
        "fit",
        help="learn features from an array file, without labels",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fit a DAEFeatureExtractor on the rows of X and save it as a model folder. "
        "Several --hidden widths make a stacked DAE, pretrained layer by layer.",
    )
    _add_input(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument(
        "--hidden",
        type=options.numbers_list(checks.POSITIVE_INT),
        default="1000",
        help="layer widths, comma separated (conv2d: channels per level)",
    )
    p.add_argument("--model", default="mlp", choices=["mlp", "conv2d"], help="dense or convolutional DAE")
    p.add_argument("--activation", default="sigmoid", help="hidden activation (sigmoid, relu, tanh...)")
    p.add_argument("--untied", action="store_true", help="give each decoder its own weights (default: tied)")
    p.add_argument(
        "--noise",
        default="masking:0.25",
        help="corruption, e.g. masking:0.25, gaussian:0.3, saltpepper:0.1; join with +; "
        "use ';' between specs for one noise per layer",
    )
    p.add_argument("--joint", action="store_true", help="train a multi-layer DAE end to end, not layer by layer")
    p.add_argument(
        "--scaling", default="minmax", choices=["minmax", "standard", "none"], help="input scaling learnt at fit time"
    )
    p.add_argument(
        "--loss",
        default="auto",
        choices=["auto", "bce", "mse", "l1"],
        help="reconstruction loss (auto: bce after minmax scaling, else mse)",
    )
    p.add_argument(
        "--image-shape",
        default=None,
        metavar="H,W",
        help="shape of one row as an image (needed by conv2d for non-image files)",
    )
    p.add_argument("--epochs", type=options.positive_int, default=30, help="passes over the data per layer")
    p.add_argument(
        "--steps", type=options.positive_int, default=None, help="optimiser steps per layer (wins over --epochs)"
    )
    p.add_argument("--batch-size", type=options.positive_int, default=64, help="batch size")
    p.add_argument("--lr", type=options.positive, default=1e-3, help="learning rate (AdamW)")
    p.add_argument("--weight-decay", type=options.non_negative, default=0.0, help="AdamW weight decay")
    p.add_argument("--seed", type=options.seed, default=0, help="random seed")
    p.add_argument("--device", type=options.device, default="cpu", help="cpu, cuda or auto")
    p.add_argument("--threads", type=options.threads, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--labels", default=None, metavar="FILE", help="labels of X (.npy/.npz/.csv): also writes DIR/codes_map.png"
    )
    p.add_argument("--labels-key", default=None, help="array of --labels to read from an .npz")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fit)

    p = cmds.add_parser(
        "transform",
        help="features of an array file (.npy)",
        description="Write the learned features of every row of X to a .npy file.",
    )
    p.add_argument("model", metavar="DIR", help="model folder from 'daekit features fit'")
    _add_input(p)
    p.add_argument("-o", "--output", required=True, metavar="Z.npy", help="features to write (.npy)")
    p.set_defaults(func=cmd_transform)

    p = cmds.add_parser(
        "filters",
        help="first-layer filters as an image grid (PNG)",
        description="Draw the first-layer filters (one tile per hidden unit) as a PNG grid.",
    )
    p.add_argument("model", metavar="DIR", help="model folder from 'daekit features fit'")
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="picture to write")
    p.add_argument("--count", type=options.positive_int, default=100, help="how many filters to draw")
    p.set_defaults(func=cmd_filters)

    p = cmds.add_parser(
        "map",
        help="2-D map of the codes of X coloured by label (PNG)",
        description="Project the features of X to 2-D (PCA or t-SNE) and draw one dot per row, coloured by its label.",
    )
    p.add_argument("model", metavar="DIR", help="model folder from 'daekit features fit'")
    _add_input(p)
    p.add_argument("--labels", required=True, metavar="FILE", help="labels of X (.npy/.npz/.csv)")
    p.add_argument("--labels-key", default=None, help="array of --labels to read from an .npz")
    p.add_argument("--method", default="pca", choices=["pca", "tsne"], help="2-D projection")
    p.add_argument(
        "--max-points", type=options.positive_int, default=5000, help="draw at most this many rows (the first ones)"
    )
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="picture to write")
    p.set_defaults(func=cmd_map)


def _add_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="X", help="rows to use: .npy, .npz or .csv (image stacks are flattened)")
    p.add_argument("--key", default=None, help="which array of an .npz to read (default: X, or its only array)")


# -- reading ---------------------------------------------------------------------------------


def read_rows(path: str, key: str | None = None) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """Rows of a file as a float32 ``(N, F)`` array, and the image shape of one row when
    the file holds an image stack ``(N, H, W)`` or ``(N, C, H, W)`` (else None)."""
    from ..data import arrays

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such file", str(p))
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz"):
        return arrays.load_array(p, key), None
    arr = arrays.load_numpy(p, key)
    shape = tuple(int(s) for s in arr.shape[1:]) if arr.ndim in (3, 4) else None
    if arr.ndim in (3, 4):
        arr = arr.reshape(len(arr), -1)
    return arrays.check_array(arr, str(p)), shape


def read_labels(path: str, key: str | None, n_rows: int) -> np.ndarray:
    """Labels ``(N,)`` from a file; their number must match the rows of X."""
    from ..data import arrays

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such file", str(p))
    suffix = p.suffix.lower()
    y = arrays.load_numpy(p, key) if suffix in (".npy", ".npz") else arrays.load_array(p, key)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{path}: labels must be one value per row, got an array of shape {y.shape}.")
    if len(y) != n_rows:
        raise ValueError(f"{path}: has {len(y)} labels but X has {n_rows} rows.")
    return y


def _load_extractor(folder: str) -> DAEFeatureExtractor:
    from ..apps.features import DAEFeatureExtractor

    return DAEFeatureExtractor.load(folder)


def _check_width(X: np.ndarray, extractor: DAEFeatureExtractor, source: str) -> None:
    if X.shape[1] != extractor.n_features_in_:
        raise ValueError(
            f"{source}: rows have {X.shape[1]} value{'s' if X.shape[1] != 1 else ''} but the model "
            f"was fitted on {extractor.n_features_in_} per row."
        )


# -- commands --------------------------------------------------------------------------------


def cmd_fit(args: argparse.Namespace) -> int:
    from ..apps.features import DAEFeatureExtractor
    from ..apps.features_plot import plot_codes
    from ..io import check_output_folder

    check_output_folder(args.out)  # a bad --out is refused before, not after, the fit
    hidden = tuple(args.hidden)
    X, image_shape = read_rows(args.data, args.key)
    if args.image_shape:
        try:
            image_shape = tuple(int(s) for s in args.image_shape.split(","))
        except ValueError:
            raise ValueError(f"--image-shape {args.image_shape!r} must be whole numbers like 28,28.") from None
    y = read_labels(args.labels, args.labels_key, len(X)) if args.labels else None
    noise = [s.strip() for s in args.noise.split(";")] if ";" in args.noise else args.noise
    extractor = DAEFeatureExtractor(
        hidden_sizes=hidden,
        activation=args.activation,
        tied=not args.untied,
        noise=noise,
        model=args.model,
        image_shape=image_shape,
        layerwise=not args.joint,
        loss=args.loss,
        scaling=args.scaling,
        epochs=args.epochs,
        max_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        random_state=args.seed,
        device=args.device,
        num_threads=args.threads,
        verbose=not args.quiet,
    )
    extractor.fit(X)
    out = extractor.save(args.out)
    print(
        f"saved {out}: {X.shape[1]} inputs -> {extractor.n_features_out_} features "
        f"({'stacked ' if len(hidden) > 1 and args.model == 'mlp' else ''}{args.model}, {len(X)} rows)"
    )
    if y is not None:
        codes = extractor.transform(X[:5000])
        plot_codes(codes, y[:5000], Path(out) / "codes_map.png")
        print(f"wrote {Path(out) / 'codes_map.png'}")
    return 0


def cmd_transform(args: argparse.Namespace) -> int:
    from ..data.arrays import save_array
    from ..io import check_output_file

    if not args.output.lower().endswith(".npy"):
        raise ValueError(f"{args.output}: features are written as .npy; give a name ending in .npy.")
    check_output_file(args.output)
    extractor = _load_extractor(args.model)
    X, _ = read_rows(args.data, args.key)
    _check_width(X, extractor, args.data)
    Z = extractor.transform(X).astype(np.float32)
    save_array(args.output, Z)  # refuses NaN/inf codes; atomic
    print(f"wrote {args.output}: {Z.shape[0]} rows x {Z.shape[1]} features")
    return 0


def cmd_filters(args: argparse.Namespace) -> int:
    from ..apps.features_plot import plot_filters
    from ..io import check_output_file

    check_output_file(args.output)
    extractor = _load_extractor(args.model)
    plot_filters(extractor, args.output, max_filters=args.count)
    print(f"wrote {args.output}")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from ..apps.features_plot import plot_codes
    from ..io import check_output_file

    check_output_file(args.output)
    extractor = _load_extractor(args.model)
    X, _ = read_rows(args.data, args.key)
    _check_width(X, extractor, args.data)
    y = read_labels(args.labels, args.labels_key, len(X))
    n = min(len(X), args.max_points)
    plot_codes(extractor.transform(X[:n]), y[:n], args.output, method=args.method)
    print(f"wrote {args.output} ({n} points)")
    return 0
