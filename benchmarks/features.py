"""Feature learning benchmark (BENCHMARKS.md §5): logistic regression on learned features.

MNIST-small (5,000 training images, the full 10,000 test images): features are learnt on
the training images without labels, ``LogisticRegression(max_iter=1000)`` is fitted on
the training features and its test error reported, for raw pixels on [0, 1], PCA,
scikit-learn's BernoulliRBM, a single daekit DAE and a stacked DAE (greedy layer-wise
pretraining). Then the pretraining effect: the stacked DAE fine-tuned with labels
(DAEClassifier) against the same network and fine-tuning from random initialisation,
over several seeds. scikit-learn's digits: the same feature methods with 5-fold CV.

    python benchmarks/features.py --data ../shared/data/mnist --out benchmarks/results/features.json

Prints a table and writes JSON (device, torch version, git commit, settings, rows), plus
the first-layer filters and a 2-D map of the test codes as PNGs next to the JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import git_commit


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--data", required=True, help="folder holding mnist_small.npz (or the .npz itself)")
    p.add_argument("--out", default="benchmarks/results/features.json", help="JSON to write")
    p.add_argument("--parts", default="mnist,pretraining,digits", help="comma-separated parts to run")
    p.add_argument("--seeds", default="0,1,2", help="seeds of the fine-tuning comparison")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes on 2 cores)")
    p.add_argument("--hidden", default="1000", help="single DAE width")
    p.add_argument("--stacked", default="500,500", help="stacked DAE widths")
    p.add_argument("--noise", default="masking:0.25", help="corruption of every layer")
    p.add_argument("--activation", default="sigmoid", help="hidden activation")
    p.add_argument("--epochs", type=int, default=15, help="DAE pretraining epochs per layer")
    p.add_argument("--finetune-epochs", type=int, default=40, help="supervised fine-tuning epochs")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of DAE training and fine-tuning")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of pretraining")
    p.add_argument("--finetune-lr", type=float, default=3e-3, help="AdamW learning rate of fine-tuning")
    p.add_argument("--pca", type=int, default=50, help="PCA components")
    p.add_argument("--rbm-components", type=int, default=256, help="BernoulliRBM hidden units")
    p.add_argument("--rbm-iter", type=int, default=10, help="BernoulliRBM epochs")
    p.add_argument("--limit", type=int, default=None, help="use only this many train/test rows (smoke runs)")
    return p.parse_args(argv)


def load_mnist(path: str, limit: int | None):
    path = Path(path)
    if path.is_dir():
        path = path / "mnist_small.npz"
    with np.load(path, allow_pickle=False) as z:
        X, y = z["x_train"].reshape(len(z["x_train"]), -1) / 255.0, z["y_train"]
        Xt, yt = z["x_test"].reshape(len(z["x_test"]), -1) / 255.0, z["y_test"]
    if limit:  # every k-th row: the training file is sorted by class
        X, y = X[:: max(1, len(X) // limit)][:limit], y[:: max(1, len(y) // limit)][:limit]
        Xt, yt = Xt[:: max(1, len(Xt) // limit)][:limit], yt[:: max(1, len(yt) // limit)][:limit]
    return X, y, Xt, yt


def logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def widths(text: str) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split(",") if w.strip())


def mnist_features(args, X, y, Xt, yt, rows: list, figures: Path) -> None:
    """Unsupervised features + the same logistic regression, test error on 10,000 images."""
    from sklearn.decomposition import PCA
    from sklearn.neural_network import BernoulliRBM

    import daekit as dk
    from daekit.apps.features_plot import plot_codes, plot_filters

    dae_kw = dict(
        activation=args.activation,
        noise=args.noise,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        random_state=0,
        num_threads=args.threads,
    )
    methods = [
        ("raw pixels", None),
        (f"PCA ({args.pca})", lambda: PCA(args.pca, random_state=0)),
        (
            f"BernoulliRBM ({args.rbm_components}, {args.rbm_iter} it)",
            lambda: BernoulliRBM(
                n_components=args.rbm_components,
                learning_rate=0.05,
                n_iter=args.rbm_iter,
                batch_size=20,
                random_state=0,
            ),
        ),
        (f"daekit DAE ({args.hidden})", lambda: dk.DAEFeatureExtractor(hidden_sizes=widths(args.hidden), **dae_kw)),
        (
            f"daekit stacked DAE ({args.stacked})",
            lambda: dk.DAEFeatureExtractor(hidden_sizes=widths(args.stacked), **dae_kw),
        ),
    ]
    for name, make in methods:
        t0 = time.perf_counter()
        if make is None:
            F, Ft, model = X, Xt, None
        else:
            model = make().fit(X)
            F, Ft = model.transform(X), model.transform(Xt)
        t_feat = time.perf_counter() - t0
        clf = logistic().fit(F, y)
        err = 100 * (1 - clf.score(Ft, yt))
        rows.append(
            {
                "part": "mnist",
                "method": name,
                "test_error_pct": round(err, 2),
                "n_features": F.shape[1],
                "feature_s": round(t_feat, 1),
                "logreg_s": round(time.perf_counter() - t0 - t_feat, 1),
            }
        )
        print(f"  {name:<38} {err:6.2f} %  ({F.shape[1]} features, features {t_feat:.0f} s)", flush=True)
        if name.startswith("daekit DAE"):
            plot_filters(model, figures / "features_filters.png", max_filters=100)
            plot_codes(
                Ft[:3000],
                yt[:3000],
                figures / "features_codes.png",
                title=f"daekit DAE codes of 3,000 MNIST test images (PCA), error {err:.2f} %",
            )
        if name.startswith("daekit stacked"):
            mnist_features.stacked = model  # reused (seed 0) by the pretraining comparison


def pretraining_effect(args, X, y, Xt, yt, rows: list) -> None:
    """Fine-tuned stacked DAE vs the same network and fine-tuning from random init."""
    import daekit as dk

    for seed in [int(s) for s in args.seeds.split(",")]:
        kw = dict(
            hidden_sizes=widths(args.stacked),
            activation=args.activation,
            noise=args.noise,
            pretrain_epochs=args.epochs,
            epochs=args.finetune_epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            finetune_lr=args.finetune_lr,
            random_state=seed,
            num_threads=args.threads,
        )
        for pretrain in (True, False):
            t0 = time.perf_counter()
            clf = dk.DAEClassifier(pretrain=pretrain, **kw)
            reuse = getattr(mnist_features, "stacked", None) if pretrain and seed == 0 else None
            clf.fit(X, y, pretrained=reuse)
            err = 100 * (1 - clf.score(Xt, yt))
            name = "fine-tuned stacked DAE" if pretrain else "same network, random init"
            rows.append(
                {
                    "part": "pretraining",
                    "method": name,
                    "seed": seed,
                    "test_error_pct": round(err, 2),
                    "fit_s": round(time.perf_counter() - t0, 1),
                    "pretraining_reused": reuse is not None,
                }
            )
            print(f"  seed {seed}  {name:<30} {err:6.2f} %  ({time.perf_counter() - t0:.0f} s)", flush=True)


def digits_cv(args, rows: list) -> None:
    """scikit-learn digits (8x8, 1,797 images), 5-fold stratified CV, features fit per fold."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neural_network import BernoulliRBM
    from sklearn.pipeline import make_pipeline

    import daekit as dk

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    methods = [
        ("raw pixels", []),
        ("PCA (30)", [PCA(30, random_state=0)]),
        (
            "BernoulliRBM (256, 20 it)",
            [BernoulliRBM(n_components=256, learning_rate=0.05, n_iter=20, batch_size=20, random_state=0)],
        ),
        (
            "daekit DAE (256)",
            [
                dk.DAEFeatureExtractor(
                    hidden_sizes=(256,),
                    activation=args.activation,
                    noise=args.noise,
                    epochs=30,
                    batch_size=32,
                    random_state=0,
                    num_threads=args.threads,
                )
            ],
        ),
        (
            "daekit stacked DAE (256,256)",
            [
                dk.DAEFeatureExtractor(
                    hidden_sizes=(256, 256),
                    activation=args.activation,
                    noise=args.noise,
                    epochs=30,
                    batch_size=32,
                    random_state=0,
                    num_threads=args.threads,
                )
            ],
        ),
    ]
    for name, steps in methods:
        t0 = time.perf_counter()
        scores = cross_val_score(make_pipeline(*steps, logistic()), X, y, cv=cv)
        err = 100 * (1 - scores)
        rows.append(
            {
                "part": "digits",
                "method": name,
                "cv_error_pct": round(float(err.mean()), 2),
                "cv_error_std": round(float(err.std()), 2),
                "s": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"  {name:<38} {err.mean():6.2f} % ± {err.std():.2f}  ({time.perf_counter() - t0:.0f} s)", flush=True)


def table(rows: list) -> str:
    lines = ["| part | method | error % | notes |", "|---|---|---|---|"]
    for r in rows:
        if r["part"] == "pretraining":
            continue
        err = r.get("test_error_pct", r.get("cv_error_pct"))
        note = f"{r['n_features']} features" if "n_features" in r else f"± {r['cv_error_std']} (5-fold)"
        lines.append(f"| {r['part']} | {r['method']} | {err:.2f} | {note} |")
    pre = [r for r in rows if r["part"] == "pretraining"]
    for name in ("fine-tuned stacked DAE", "same network, random init"):
        errs = [r["test_error_pct"] for r in pre if r["method"] == name]
        if errs:
            lines.append(
                f"| pretraining | {name} | {np.mean(errs):.2f} | seeds: {', '.join(f'{e:.2f}' for e in errs)} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list = []
    t_start = time.perf_counter()
    if parts & {"mnist", "pretraining"}:
        X, y, Xt, yt = load_mnist(args.data, args.limit)
        if "mnist" in parts:
            print(f"MNIST-small: {len(X)} train / {len(Xt)} test, logistic regression test error", flush=True)
            mnist_features(args, X, y, Xt, yt, rows, out.parent)
        if "pretraining" in parts:
            print("Pretraining effect (DAEClassifier, same network and fine-tuning):", flush=True)
            pretraining_effect(args, X, y, Xt, yt, rows)
    if "digits" in parts:
        print("scikit-learn digits, 5-fold CV:", flush=True)
        digits_cv(args, rows)
    import sklearn

    result = {
        "benchmark": "features",
        "protocol": "BENCHMARKS.md section 5",
        "device": f"cpu ({platform.processor() or platform.machine()}), {torch.get_num_threads()} torch thread(s)",
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
        "git_commit": git_commit(),
        "settings": vars(args),
        "total_s": round(time.perf_counter() - t_start, 1),
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(table(rows))
    print(f"\nwrote {out} ({result['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
