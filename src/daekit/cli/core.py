"""Core commands: ``info``, ``train`` and ``denoise`` for arrays, ``export``, ``demo``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checks
from . import options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "info",
        help="describe a model folder",
        description="Show what a model folder holds: class, model and its arguments, "
        "parameters, noise, preprocessing, size on disk.",
    )
    p.add_argument("model", metavar="DIR", help="a folder with config.json and model.safetensors")
    p.add_argument("--json", action="store_true", help="print the raw config.json instead")
    p.set_defaults(func=cmd_info)

    from ..train import add_train_arguments

    p = sub.add_parser(
        "train",
        help="train a dense DAE on an array file",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train a dense denoising autoencoder on a table of numbers (.npy, .npz or "
        ".csv, one row per sample). Features are standardised first; the noise "
        "level is on that standardised scale. Writes a model folder to --out.",
    )
    p.add_argument("data", metavar="DATA", help="training data: .npy, .npz (array X) or .csv")
    p.add_argument("--key", default=None, help="which array of an .npz to read (default: X, or its only array)")
    p.add_argument("--out", required=True, metavar="DIR", help="run and model folder")
    p.add_argument(
        "--hidden",
        type=options.numbers_list(checks.POSITIVE_INT),
        default="256,64",
        help="encoder widths, comma separated; the decoder mirrors them",
    )
    p.add_argument("--activation", default="relu", help="hidden activation (relu, gelu, tanh, sigmoid...)")
    p.add_argument("--tied", action="store_true", help="tie decoder weights to the encoder's (transposed)")
    p.add_argument(
        "--noise",
        type=options.noise_spec,
        default="gaussian:0.2",
        help="corruption, e.g. gaussian:0.2, gaussian:0-0.5, masking:0.25, saltpepper:0.05; join with +",
    )
    p.add_argument("--loss", default="mse", choices=["mse", "l1", "bce"], help="reconstruction loss")
    p.add_argument(
        "--sparsity", type=options.non_negative, default=0.0, help="weight of the L1 sparsity penalty on the code"
    )
    p.add_argument("--contractive", type=options.non_negative, default=0.0, help="weight of the contractive penalty")
    p.add_argument("--val-split", type=options.fraction, default=0.1, help="fraction of rows held out for validation")
    p.add_argument("--no-standardize", action="store_true", help="use the data as it is (e.g. already on [0, 1])")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "denoise",
        help="denoise an array file with a trained model",
        description="Denoise every row of DATA with the model in DIR and write the result "
        "(.npy or .csv, by the suffix of -o).",
    )
    p.add_argument("model", metavar="DIR", help="model folder from 'daekit train'")
    p.add_argument("data", metavar="DATA", help=".npy, .npz or .csv with the model's number of columns")
    p.add_argument("--key", default=None, help="which array of an .npz to read (default: X, or its only array)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file, .npy or .csv")
    p.add_argument("--batch-size", type=options.positive_int, default=1024, help="rows per forward pass")
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser(
        "export",
        help="export a model folder to ONNX",
        description="Export the model in DIR (a DenoisingAutoencoder, ImageDenoiser, SpeechEnhancer or "
        "DAEDetector folder) to ONNX with dynamic batch and size axes, then check the "
        "file with onnxruntime against PyTorch.",
    )
    p.add_argument("model", metavar="DIR", help="model folder (e.g. src/daekit/pretrained/gray)")
    p.add_argument("--onnx", required=True, metavar="FILE", help="ONNX file to write")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "demo",
        help="the quick tour: train and measure a DAE in a minute",
        description="Train a small DAE on scikit-learn's 8x8 digits with Gaussian noise and "
        "print how much cleaner its output is than its input.",
    )
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="where to save the model")
    p.add_argument("--steps", type=options.positive_int, default=1500, help="training steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)


# -- info ------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    from ..io import WEIGHTS_NAME, read_config, read_model_folder

    config = read_config(args.model)
    _load_as_its_class(args.model, config["class"])
    if args.json:
        print(json.dumps(config, indent=2))
        return 0
    _, tensors = read_model_folder(args.model)
    n_params = sum(t.numel() for t in tensors.values())
    size = (Path(args.model) / WEIGHTS_NAME).stat().st_size
    members = config.get("members") or []
    described = members[0] if members else config  # a detector's members share one description
    model = described.get("model", {})
    print(f"folder:        {args.model}")
    print(f"class:         {config['class']} (daekit {config.get('daekit_version', '?')})")
    if members:
        print(f"members:       {len(members)}")
    print(f"model:         {model.get('name', '?')}")
    for k, v in model.get("kwargs", {}).items():
        print(f"  {k:<18} {v}")
    print(f"parameters:    {n_params:,} ({size / 1e6:.2f} MB on disk)")
    print(f"noise:         {_describe_noise(described.get('noise'))}")
    if "loss" in described:
        print(f"loss:          {described['loss']}")
    regs = {k: v for k, v in described.get("regularisers", {}).items() if k in ("sparsity", "contractive") and v}
    if regs:
        print(f"regularisers:  {regs}")
    prep = described.get("preprocessing") or {}
    if prep:
        print(f"preprocessing: {', '.join(sorted(prep))}")
    return 0


#: The loader of each class: ``info`` runs it so that it refuses exactly what denoise,
#: score or transform would (weights that do not fit the config, bad values), not less.
_INFO_LOADERS = {
    "DenoisingAutoencoder": ("..dae", "DenoisingAutoencoder", "from_pretrained"),
    "ImageDenoiser": ("..apps.image", "ImageDenoiser", "from_pretrained"),
    "SpeechEnhancer": ("..apps.speech", "SpeechEnhancer", "from_pretrained"),
    "DAEDetector": ("..apps.anomaly", "DAEDetector", "load"),
    "DAEFeatureExtractor": ("..apps.features", "DAEFeatureExtractor", "load"),
}


def _load_as_its_class(path: str, cls: str) -> None:
    import importlib

    module, name, method = _INFO_LOADERS[cls]  # read_config refused every other class
    getattr(getattr(importlib.import_module(module, __package__), name), method)(path)


def _describe_noise(cfg: dict[str, Any] | None) -> str:
    from .. import noise

    if cfg and "type" not in cfg:  # an ImageDenoiser's: the noise range it was trained for
        return ", ".join(f"{k} {v}" for k, v in cfg.items())
    return repr(noise.from_config(cfg)) if cfg else "none"


# -- train / denoise on arrays ---------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from .. import DenoisingAutoencoder, create_model
    from .. import noise as noise_lib
    from ..data import fit_standardizer, load_array, standardize
    from ..io import check_output_folder
    from ..train import Trainer, config_from_args

    check_output_folder(args.out)  # a bad --out is refused before the data is read
    hidden = list(args.hidden)
    x = load_array(args.data, args.key, min_rows=2)
    prep = {}
    if not args.no_standardize:
        prep["standardize"] = fit_standardizer(x)
        x = standardize(x, prep["standardize"])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    n_val = int(round(len(x) * args.val_split))
    val, train = (x[order[:n_val]], x[order[n_val:]]) if n_val else (None, x)

    config = config_from_args(args, out_dir=args.out, epochs=20)
    torch.manual_seed(config.seed)  # the initial weights too follow --seed: same command, same model
    model = create_model(
        "mlp",
        in_features=x.shape[1],
        hidden_sizes=hidden,
        activation=args.activation,
        tied=args.tied,
        output_activation="sigmoid" if args.loss == "bce" else "identity",
    )
    dae = DenoisingAutoencoder(
        model,
        noise=noise_lib.fit_to_data(noise_lib.from_spec(args.noise), torch.from_numpy(train)),
        loss=args.loss,
        sparsity=args.sparsity,
        contractive=args.contractive,
        preprocessing=prep,
    )
    trainer = Trainer(dae, config).fit(torch.from_numpy(train), None if val is None else torch.from_numpy(val))
    if trainer.is_main_process:  # under torchrun, one process writes the model folder
        dae.save_pretrained(args.out)
        print(f"saved model to {args.out} ({model.num_parameters():,} parameters)")
    return 0


def cmd_denoise(args: argparse.Namespace) -> int:
    from .. import DenoisingAutoencoder
    from ..data import load_array, save_array, standardize, unstandardize
    from ..data.arrays import check_array
    from ..io import check_output_file

    check_output_file(args.output)
    dae = DenoisingAutoencoder.from_pretrained(args.model)
    x = load_array(args.data, args.key)
    n_features = getattr(dae.model, "in_features", None)
    check_array(x, args.data, n_features=n_features)
    stats = dae.preprocessing.get("standardize")
    xs = standardize(x, stats) if stats else x
    out = np.concatenate(
        [
            dae.denoise(torch.from_numpy(chunk)).numpy()
            for chunk in np.array_split(xs, max(1, -(-len(xs) // args.batch_size)))
        ]
    )
    out = unstandardize(out, stats) if stats else out
    save_array(args.output, out)
    print(f"denoised {len(out)} rows -> {args.output}")
    return 0


# -- export ----------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_model_folder

    info = export_model_folder(args.model, args.onnx, check=not args.no_check)
    msg = f"wrote {args.onnx} ({info['class']}: {', '.join(info['inputs'])} -> {', '.join(info['outputs'])})"
    if info["max_abs_diff"] is not None:
        msg += f"; onnxruntime matches PyTorch within {info['max_abs_diff']:.1e}"
    print(msg)
    return 0


# -- demo ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import digits_demo
    from ..io import check_output_folder

    check_output_folder(args.out)  # before the minute of training, not after it
    digits_demo(args.out, steps=args.steps, quiet=args.quiet)
    return 0
