"""``daekit noise estimate FILE...`` and ``daekit noise select DATA --task ... --budget 5m``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import group_help, options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "noise",
        help="estimate the noise in real data; choose a DAE's noise by validation",
        description="Noise modelling: 'estimate' measures the noise in files (image σ on 0-255, "
        "audio floor and SNR, per-column scale and missing share); 'select' runs "
        "short trainings over noise types and levels and ranks them.",
    )
    cmds = group.add_subparsers(dest="noise_command", metavar="ACTION")

    group.set_defaults(func=group_help(group))

    p = cmds.add_parser(
        "estimate",
        help="estimate the noise level of files",
        description="Estimate the noise of each FILE: images (.png, .jpg, .tif, .bmp) give the noise's "
        "RMS σ on 0-255 (one per colour channel) and whether it is white or spatially correlated, as "
        "real camera noise is; audio (.wav, .flac, .ogg) the "
        "noise floor and SNR; tables (.csv, .npy, .npz) a robust scale and missing "
        "share per column (or, with --kind series, the noise σ per channel).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files to measure")
    p.add_argument(
        "--kind",
        choices=["auto", "image", "audio", "table", "series"],
        default="auto",
        help="kind of data (auto: from the file extension)",
    )
    p.add_argument(
        "--method",
        choices=["pca", "mad"],
        default="pca",
        help="image estimator: pca (robust to texture) or mad (finest wavelet band, faster)",
    )
    p.add_argument("--key", default=None, help="array name inside an .npz file")
    p.add_argument("--json", action="store_true", help="print one JSON object per file instead of text")
    p.set_defaults(func=cmd_estimate)

    p = cmds.add_parser(
        "select",
        help="choose the noise type and level by short trainings",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train a small DAE once per candidate noise (none, gaussian, masking, "
        "salt-and-pepper, speckle at several levels) within a time budget, score "
        "each on held-out data and print the ranked table. Data is min-max scaled "
        "on the training part, so levels are on a [0, 1] scale. Criteria: denoise = "
        "PSNR of clean held-out data from its noisy version (--val-noisy or "
        "--target); features = linear-probe accuracy (labels needed); anomaly = "
        "tail contrast of held-out reconstruction errors (no labels needed; see "
        "benchmarks/noise.py for how well it picks).",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        help="clean training data: .npz (array X, x_train or x; labels y or "
        "y_train), .npy or .csv; one sample per row ((N, H, W) images are "
        "flattened)",
    )
    p.add_argument("--task", choices=["denoise", "features", "anomaly"], required=True, help="what the DAE is for")
    p.add_argument("--budget", default="5m", help="wall-clock budget: seconds or e.g. 90s, 5m, 1h")
    p.add_argument("--key", default=None, help="array name of the data inside an .npz file")
    p.add_argument("--labels", default=None, help="labels: array name in the .npz, or a column index for .csv")
    p.add_argument("--val", default=None, metavar="FILE", help="clean held-out data (default: hold out --val-share)")
    p.add_argument(
        "--val-share", type=options.open_unit, default=0.2, help="share of DATA held out when --val is not given"
    )
    p.add_argument("--val-noisy", default=None, metavar="FILE", help="denoise: recorded noisy version of --val")
    p.add_argument(
        "--target",
        default=None,
        help="denoise: the noise the model will meet, on the data's own scale, e.g. gaussian:0.1",
    )
    p.add_argument("--search", choices=["grid", "random"], default="grid", help="grid or random search")
    p.add_argument("--trials", type=options.positive_int, default=None, help="at most this many trials")
    p.add_argument(
        "--candidates",
        default=None,
        help="levels per type, e.g. 'gaussian=0.05,0.1,0.2;masking=0.25,0.5' (default: the built-in grid)",
    )
    p.add_argument("--steps", type=options.positive_int, default=300, help="training steps per trial")
    p.add_argument("--batch-size", type=options.positive_int, default=128, help="batch size of the trials")
    p.add_argument("--lr", type=options.positive, default=1e-3, help="learning rate of the trials")
    p.add_argument("--no-normalize", action="store_true", help="do not min-max scale (levels on the data's scale)")
    p.add_argument("--seed", type=options.seed, default=0, help="random seed")
    p.add_argument("--device", type=options.device, default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--plot", default=None, metavar="PNG", help="write the score-vs-level plot here")
    p.add_argument("--json", default=None, metavar="FILE", help="write the ranked table and best noise as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_select)


# -- estimate ---------------------------------------------------------------------------


def _describe(path: str, kind: str, result: Any) -> tuple[str, dict[str, Any]]:
    from ..noise_estimate import NO_NOISE

    if kind == "image":
        sigmas = np.atleast_1d(np.asarray(result, dtype=float))
        correlated = bool(getattr(result, "correlated", False))
        record = {"file": path, "kind": kind, "sigma": [round(float(s), 3) for s in sigmas], "correlated": correlated}
        if not np.any(sigmas > 0):
            return f"{path}: {NO_NOISE} (σ = 0 on 0-255)", record
        what = "spatially correlated (camera-like) noise" if correlated else "white noise"
        if len(sigmas) == 1:
            return f"{path}: {what}, RMS σ = {sigmas[0]:.2f} (0-255 scale)", record
        names = "RGB" if len(sigmas) == 3 else "".join(str(i) for i in range(len(sigmas)))
        parts = ", ".join(f"{n} {s:.2f}" for n, s in zip(names, sigmas))
        return f"{path}: {what}, RMS σ per channel = {parts} (0-255 scale)", record
    if kind == "audio":
        record = {"file": path, "kind": kind, **result.to_dict()}
        return f"{path}: {result.message} (noise RMS {result.noise_rms:.4g})", record
    record = {"file": path, "kind": kind, **result.to_dict()}
    scale = result.scale
    what = "noise σ" if kind == "series" else "robust scale"
    shown = ", ".join(f"{v:.4g}" for v in scale[:8]) + (", ..." if len(scale) > 8 else "")
    missing = f"; missing {result.missing.mean():.1%}" if result.missing.any() else "; no missing values"
    return f"{path}: {what} per column [{shown}]{missing}; {result.message}", record


def cmd_estimate(args: argparse.Namespace) -> int:
    from ..noise_estimate import estimate_file, guess_kind

    failed = 0
    for path in args.files:
        try:
            kind = guess_kind(path) if args.kind == "auto" else args.kind
            options = (
                {"method": args.method} if kind == "image" else {"key": args.key} if kind in ("table", "series") else {}
            )
            text, record = _describe(path, kind, estimate_file(path, kind=kind, **options))
        except (ValueError, FileNotFoundError, ImportError) as e:
            if len(args.files) == 1:
                raise
            from . import error_sentence

            print(f"daekit: error: {error_sentence(e)}", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps(record) if args.json else text)
    if failed:
        return 2 if failed == len(args.files) else 1
    return 0


# -- select -----------------------------------------------------------------------------


def _load(path: str, key: str | None, labels: str | None, want_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(X, y or None) from .npz / .npy / .csv; (N, H, W) arrays are flattened to rows."""
    from ..noise_estimate import read_table

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "no such file", path)
    y = None
    if p.suffix.lower() == ".npz":
        from ..data.arrays import npz_array, open_npz

        with open_npz(p) as z:
            names = list(z.files)
            pick = key or next(
                (k for k in ("X", "x_train", "x", "data") if k in names), names[0] if len(names) == 1 else None
            )
            if pick not in names:
                raise ValueError(f"{path} holds arrays {', '.join(names)}; choose the data with --key.")
            x = npz_array(z, path, str(pick))
            label_key = labels or (next((k for k in ("y", "y_train") if k in names), None) if want_labels else None)
            if label_key is not None:
                if label_key not in names:
                    raise ValueError(f"{path} has no array '{label_key}' for --labels (it holds {', '.join(names)}).")
                y = npz_array(z, path, label_key)
    else:
        x = read_table(p, key=key)
        if x.ndim == 1:
            x = x[:, None]
        if labels is not None:
            try:
                col = int(labels)
            except ValueError:
                raise ValueError(
                    f"--labels for a {p.suffix} file is a column index (e.g. -1 for the last), not {labels!r}."
                ) from None
            if not -x.shape[1] <= col < x.shape[1]:
                raise ValueError(f"--labels {col} is outside the {x.shape[1]} columns of {path}.")
            y = x[:, col]
            x = np.delete(x, col % x.shape[1], axis=1)
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if len(x) < 2:  # said here, with the file's name, rather than as select()'s 'train' argument
        raise ValueError(f"{path}: has {len(x)} row(s) of data; noise select needs at least 2.")
    return x, y


def _parse_candidates(text: str | None) -> dict[str, list[float]] | None:
    if not text:
        return None
    out: dict[str, list[float]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, levels = part.partition("=")
        if not sep:
            raise ValueError(f"--candidates part {part!r} must look like 'gaussian=0.05,0.1'.")
        try:
            out[name.strip().lower()] = [float(v) for v in levels.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--candidates levels in {part!r} must be numbers.") from None
    return out


def cmd_select(args: argparse.Namespace) -> int:
    from ..io import check_output_file
    from ..noise_select import parse_budget, select

    for output in (args.plot, args.json):  # refused before the search, not after it
        if output:
            check_output_file(output)
    budget = parse_budget(args.budget)
    x, y = _load(args.data, args.key, args.labels, want_labels=args.task == "features")
    val = y_val = val_noisy = None
    if args.val:
        val, y_val = _load(args.val, args.key, args.labels, want_labels=args.task == "features" or args.labels)
    if args.val_noisy:
        if not args.val:
            raise ValueError("--val-noisy needs the clean held-out data it belongs to: give --val too.")
        val_noisy, _ = _load(args.val_noisy, args.key, None, want_labels=False)
    if args.task == "anomaly" and args.labels is None:
        y = y_val = None  # unlabelled unless the user asks for the labels to be used
    print(
        f"daekit noise select: {args.data}: {x.shape[0]} samples of shape {tuple(x.shape[1:])}, task {args.task}, "
        f"budget {budget:g} s",
        file=sys.stderr,
    )
    result = select(
        x,
        val,
        task=args.task,
        y=y,
        y_val=y_val,
        val_noisy=val_noisy,
        target=args.target,
        candidates=_parse_candidates(args.candidates),
        search=args.search,
        n_trials=args.trials,
        budget=budget,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        normalize=not args.no_normalize,
        val_share=args.val_share,
        seed=args.seed,
        device=args.device,
        quiet=args.quiet,
        plot=args.plot,
    )
    print(result.format_table())
    scale = "the data's own scale" if args.no_normalize else "data min-max scaled to [0, 1]"
    print(f"best noise: {result.best_spec} (score {result.best_score:.4f}; levels on {scale})")
    if args.plot:
        print(f"plot: {args.plot}")
    if args.json:
        from ..io import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(result.to_dict(), indent=1).encode())
        print(f"table: {args.json}")
    return 0
