"""ADBench protocol (BENCHMARKS.md §3): DAEDetector vs PyOD AutoEncoder, IForest, ECOD.

Protocol (Han et al. 2022): sets under 1,000 rows are resampled with replacement to
1,000, sets over 10,000 rows subsampled to 10,000; stratified 70/30 train/test split;
MinMax scaling fitted on train; fit on the train part without labels; score the test
part; seeds 1, 2, 3; ROC-AUC and average precision; time = fit + score. One torch
thread for every detector (the published baselines were measured that way).

Usage:
    python benchmarks/anomaly_tabular.py --data ../shared/data/anomaly/tabular \
        --out benchmarks/results/anomaly_tabular.json
    python benchmarks/anomaly_tabular.py --data ... --detectors daekit --sets cardio,letter \
        --param n_estimators=5          # a quick look at one setting
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


def load_set(path: Path, seed: int):
    """One ADBench train/test split, scaled to [0, 1] on the training part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    d = np.load(path, allow_pickle=True)
    X, y = d["X"].astype(np.float64), d["y"].astype(int)
    rng = np.random.RandomState(seed)
    if len(X) < 1000:
        idx = rng.choice(len(X), 1000, replace=True)
        X, y = X[idx], y[idx]
    elif len(X) > 10000:
        idx = rng.choice(len(X), 10000, replace=False)
        X, y = X[idx], y[idx]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = MinMaxScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def make_detector(name: str, seed: int, params: dict):
    if name == "daekit":
        from daekit import DAEDetector

        return DAEDetector(random_state=seed, **params)
    if name == "pyod_ae":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0, device="cpu")
    if name == "iforest":
        from pyod.models.iforest import IForest

        return IForest(random_state=seed)
    if name == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD()
    raise ValueError(f"unknown detector {name!r}")


def parse_params(items):
    params = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
        if isinstance(params[key], list):
            params[key] = tuple(params[key])
    return params


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the ADBench .npz files")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    ap.add_argument("--sets", default="", help="comma-separated name fragments (default: all sets)")
    ap.add_argument("--detectors", default="daekit,pyod_ae,iforest,ecod", help="comma-separated detectors")
    ap.add_argument("--param", action="append", help="DAEDetector parameter as key=json_value (repeatable)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    from sklearn.metrics import average_precision_score, roc_auc_score

    torch.set_num_threads(args.threads)
    files = sorted(Path(args.data).glob("*.npz"), key=lambda p: int(p.name.split("_")[0]))
    if args.sets:
        files = [f for f in files if any(s in f.stem for s in args.sets.split(","))]
    detectors = args.detectors.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    params = parse_params(args.param)
    rows = []
    for f in files:
        name = f.stem.split("_", 1)[1]
        for seed in seeds:
            X_tr, X_te, _, y_te = load_set(f, seed)
            for det_name in detectors:
                det = make_detector(det_name, seed, params)
                t0 = time.perf_counter()
                det.fit(X_tr)
                scores = det.decision_function(X_te)
                seconds = time.perf_counter() - t0
                rows.append(
                    {
                        "set": name,
                        "seed": seed,
                        "detector": det_name,
                        "roc_auc": float(roc_auc_score(y_te, scores)),
                        "ap": float(average_precision_score(y_te, scores)),
                        "seconds": seconds,
                    }
                )
        line = "  ".join(
            f"{d}={np.mean([r['roc_auc'] for r in rows if r['set'] == name and r['detector'] == d]):.3f}"
            for d in detectors
        )
        print(f"{name:12s} {line}", flush=True)

    def mean(det, key, set_name=None):
        vals = [r[key] for r in rows if r["detector"] == det and (set_name is None or r["set"] == set_name)]
        return float(np.mean(vals))

    sets = list(dict.fromkeys(r["set"] for r in rows))
    header = "| set | " + " | ".join(f"{d} AUC / AP" for d in detectors) + " |"
    print("\n" + header)
    print("|---|" + "---|" * len(detectors))
    for s in sets:
        print(
            f"| {s} | " + " | ".join(f"{mean(d, 'roc_auc', s):.3f} / {mean(d, 'ap', s):.3f}" for d in detectors) + " |"
        )
    print("\n| detector | ROC-AUC | AP | total s |\n|---|---|---|---|")
    summary = {}
    for d in detectors:
        total = float(sum(r["seconds"] for r in rows if r["detector"] == d))
        summary[d] = {"roc_auc": mean(d, "roc_auc"), "ap": mean(d, "ap"), "total_seconds": total}
        print(f"| {d} | {summary[d]['roc_auc']:.3f} | {summary[d]['ap']:.3f} | {total:.1f} |")
    if args.out:
        import daekit

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "anomaly_tabular (ADBench protocol)",
            "command": " ".join(sys.argv),
            "git_commit": git_commit(),
            "device": f"cpu ({platform.processor() or platform.machine()}), {args.threads} torch thread(s)",
            "torch": torch.__version__,
            "daekit": daekit.__version__,
            "daekit_params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
            "seeds": seeds,
            "summary": summary,
            "rows": rows,
        }
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
