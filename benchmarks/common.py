"""What every benchmark records beside its numbers: the code's commit and the machine."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """The commit the benchmark ran at (with '+dirty' when the tree has changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict:
    """CPU, core count, load and torch build: enough to tell runs on different machines apart."""
    import torch

    info = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def adbench_split(X, y, seed: int):
    """ADBench's protocol (Han et al. 2022; BENCHMARKS.md §3) for one seed: under 1,000 rows
    resampled with replacement to 1,000, over 10,000 subsampled to 10,000, a stratified
    70/30 train/test split, MinMax scaling fitted on the training part.

    The one split every ADBench benchmark here uses (anomaly_tabular.py, noise.py), so
    their numbers are on the same rows. Returns float64 ``X_train, X_test, y_train, y_test``.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).astype(int)
    rng = np.random.RandomState(seed)
    if len(X) < 1000:
        idx = rng.choice(len(X), 1000, replace=True)
        X, y = X[idx], y[idx]
    elif len(X) > 10000:
        idx = rng.choice(len(X), 10000, replace=False)
        X, y = X[idx], y[idx]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    lo, hi = X_tr.min(0), X_tr.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)  # MinMaxScaler's rule for a constant column
    return (X_tr - lo) / span, (X_te - lo) / span, y_tr, y_te
