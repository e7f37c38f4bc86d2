"""SKAB (BENCHMARKS.md §4): F1, false-alarm and missed-alarm rates on SKAB's test rows.

SKAB's leaderboard protocol: in each of the 34 labelled files (valve1, valve2, other) the
first 400 rows are the training part and the rest are test rows; a detector is fitted on
each file's training rows (no labels) and flags each test row; F1, FAR (false alarms /
normal rows) and MAR (missed / anomalous rows) are computed over all test rows of all
files together, against the ``anomaly`` column.

DAEDetector works on sliding windows (60 steps) of the 8 sensor channels, standardised on
the fitted rows, and scores each test row online, from the window that ends at it; the
scores are smoothed by a trailing mean (30 steps). Every threshold is set without labels:

- ``holdout``: fit on the first 300 training rows, score the last 100 online like test
  rows, and flag what exceeds the largest of those held-out scores;
- ``1.5 x q99``: SKAB's Conv-AE rule, 1.5 × the 99th percentile of the (in-sample)
  smoothed training scores of a fit on all 400 training rows;
- ``anomaly-free factor``: factor × the largest smoothed training score, the factor the
  smallest that raises no alarm on SKAB's anomaly-free recording (cut into pieces as long
  as a labelled file, each run through the same protocol).

The test rows drift away from the 400 training rows: the temperature and thermocouple
channels wander slowly and leave their training range, so on raw levels the detector
flags most normal test rows (holdout: FAR 72 %). The default now removes that drift with ``DAEDetector(detrend=200)``:
each *slow* channel (lag-1 autocorrelation on the fitted rows above 0.8, decided per file
without labels; on the 300 rows of the holdout fit: the thermocouple in 32 of the 34
files, the temperature in 19, another sensor in 2) is replaced by its deviation from its
own trailing mean over 200 steps (causal: only the past), while the other channels keep
their levels (sustained faults, like a closed valve's lower flow, stay visible for their
whole duration).

Development split (honest selection): every design and setting below was chosen on the
test rows of the 16 ``valve1`` files only; the 18 files of valve2 and other were scored
once, with the chosen settings, and are reported separately. Configurations tried
(dev F1 / FAR % / MAR %; 2 members, seed 0, mlp, unless said; "sm" = score smoothing;
rules: holdout max ("hmax"), "× f" multiplies it; q99/MAD/max rules use in-sample
training scores of a 400-row fit):

- raw levels: holdout sm 1 / 10 / 30: 0.758 / 0.766 / 0.747 (sm 30: 72 / 3); 1.5 × q99
  sm 1 / 10 / 30: 0.770 / 0.723 / 0.711; median + 3 / 5 MAD (sm 1): 0.734 / 0.756; max of
  training scores (sm 1): 0.765; hmax × 1.5 sm 30 / 60: 0.782 / 0.781; hmax × 2 sm 60: 0.789;
- slow channels as first differences: holdout sm 10 / 30: 0.780 / 0.770;
- slow channels dropped: holdout sm 10 / 30: 0.780 / 0.759;
- all channels as first differences: holdout ≤ 0.41, best rule 0.70 (sustained faults
  vanish);
- all channels minus a 200-step trailing mean: holdout sm 30: 0.602;
- slow channels minus a trailing mean of 60 / 100 / 200 / 400 steps, holdout sm 30:
  0.781 / 0.792 / **0.814 (37 / 10)** / 0.802; sm 10: 0.793 / 0.799 / 0.805 / 0.804;
  with 200: seed 1 0.795, 4 members 0.811, conv1d model 0.789 (21 / 23); hmax × 1.5 sm
  60: 0.803 (seed 1 0.799, 4 members 0.804, 400 steps 0.814); hmax × 2 sm 30: 0.774;
  median + 3 / 5 MAD of the held-out log scores: 0.67 / 0.34; 1.5 × q99 and MAD rules on
  in-sample training scores: ≤ 0.78 at sm 1 and ≤ 0.75 smoothed (in-sample scores are
  lower than online ones, so those thresholds are too low);
- scoring the training rows online too (same as test rows) instead of in-sample: holdout
  sm 30 0.814 (unchanged), 1.5 × q99 sm 1 0.777, median + 5 MAD sm 1 0.780;
- after the choice (dev only, not adopted: within the seed spread below): slow-channel
  cutoff 0.5 / 0.6 instead of 0.8: holdout sm 30 0.805 / 0.801; detrended slow channels
  scaled by the raw channel's std instead of their own: 0.807 (sm 10: 0.815; hmax × 1.5
  sm 60: 0.820), with cutoff 0.5: 0.806.

Chosen (the fewest new settings, the best dev mean over seeds): slow channels minus a
200-step trailing mean, the existing holdout rule and 30-step smoothing.

Measured with the command below (1 torch thread, shared 2-core CPU):
    | detector (threshold without labels)      | dev (valve1)        | rest (valve2+other) | all 34 files        |
    |------------------------------------------|---------------------|---------------------|---------------------|
    | daekit, slow channels detrended, holdout | 0.814 / 37.0 / 9.5  | 0.756 / 56.2 / 9.8  | 0.783 / 46.7 / 9.7  |
    | daekit, levels, holdout (previous)       | 0.747 / 72.0 / 3.2  | 0.741 / 73.1 / 4.0  | 0.744 / 72.5 / 3.6  |
    | daekit, levels, 1.5 x q99 (Conv-AE rule) | 0.711 / 93.4 / 0.3  | 0.706 / 88.1 / 4.0  | 0.709 / 90.7 / 2.2  |
    | daekit, levels, anomaly-free factor 30.4 | 0.358 / 2.8 / 77.7  | 0.558 / 13.9 / 56.7 | 0.470 / 8.4 / 67.1  |
    | Isolation Forest                         | 0.740 / 55.9 / 12.9 | 0.744 / 61.9 / 9.2  | 0.742 / 58.9 / 11.0 |

(F1 / FAR % / MAR %; about 4 minutes in all.) Over seeds 0 / 1 / 2 (``--seed``) the
detrended detector scores 0.814 / 0.795 / 0.823 on dev, 0.756 / 0.765 / 0.749 on the rest
and 0.783 / 0.779 / 0.784 on all files (raw levels: 0.744 / 0.748 / 0.747 on all). The
detrended channels lift the dev files by 0.067 but the files not used for choosing by only
0.015 (other/8 and other/13 get worse): the 0.783 over all files meets Conv-AE's published 0.78 in F1, not in its
profile (FAR 46.7 % vs 13.6 %), and the honest out-of-sample number is the rest's 0.756.

An earlier version used 4 × the maximum training score, chosen on the labelled test rows
of all files: 0.795 / 34.7 % / 14.2 %, a tuned number, not a result. With 53.7 % of the
test rows anomalous, flagging every row scores F1 0.70. Isolation Forest on single rows
(the leaderboard's weakest baseline) runs side by side.

Usage:
    python benchmarks/anomaly_skab.py --data ../shared/data/anomaly/skab --out benchmarks/results/anomaly_skab.json
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import git_commit

from daekit import DAEDetector
from daekit.apps.anomaly_windows import trailing_mean  # the causal smoother

TRAIN_ROWS = 400
HOLDOUT_FIT = 300
SENSORS = 8
DEV_FOLDERS = ("valve1",)  # settings were chosen on these files' test rows only


def read_file(path: Path):
    with open(path) as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    header, body = rows[0], rows[1:]
    values = np.array([[float(c) for c in r[1 : 1 + SENSORS]] for r in body])
    labels = np.array([int(float(r[header.index("anomaly")])) for r in body])
    return values, labels


def rates(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    fp = int(((y_pred == 1) & (y_true == 0)).sum())
    fn = int(((y_pred == 0) & (y_true == 1)).sum())
    tn = int(((y_pred == 0) & (y_true == 0)).sum())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"f1": f1, "far": fp / max(fp + tn, 1), "mar": fn / max(fn + tp, 1), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def online_scores(values: np.ndarray, fit_rows: int, args, detrend: bool) -> np.ndarray:
    """Fit on the first ``fit_rows`` rows; the trailing-mean smoothed score of every row
    (in-sample for the fitted rows, online for the rest: each from the window ending at it).
    ``detrend``: DAEDetector's ``detrend=args.detrend`` (slow channels minus their trailing
    mean; which channels are slow is decided on the fitted rows)."""
    det = DAEDetector(
        window=args.window,
        stride=1,
        model=args.model,
        scaler="standard",
        n_estimators=args.members,
        noise_level=args.noise_level,
        random_state=args.seed,
        detrend=(args.detrend or None) if detrend else None,
    )
    det.fit(values[:fit_rows])
    scores = det.score_new(values[fit_rows:], history=values[:fit_rows])
    return trailing_mean(np.r_[det.decision_scores_, scores], args.smooth)


def holdout_flags(values: np.ndarray, args, detrend: bool) -> np.ndarray:
    """Fit on the first 300 training rows, score the last 100 online like test rows, and
    flag the test rows whose smoothed score exceeds the largest held-out one."""
    scores = online_scores(values, HOLDOUT_FIT, args, detrend)
    return (scores[TRAIN_ROWS:] > scores[HOLDOUT_FIT:TRAIN_ROWS].max()).astype(int)


def calibrate_factor(root: Path, args, piece_rows: int = 1150) -> tuple[float, int]:
    """The smallest factor × (max smoothed training score) that flags no row of SKAB's
    anomaly-free recording, cut into pieces as long as a labelled file, each run through
    the same protocol. Returns the factor and the number of pieces; reads no label."""
    with open(root / "anomaly-free" / "anomaly-free.csv") as fh:
        body = list(csv.reader(fh, delimiter=";"))[1:]
    values = np.array([[float(c) for c in r[1 : 1 + SENSORS]] for r in body])
    pieces = [values[i : i + piece_rows] for i in range(0, len(values) - piece_rows + 1, piece_rows)]
    ratios = []
    for piece in pieces:
        scores = online_scores(piece, TRAIN_ROWS, args, detrend=False)
        ratios.append(scores[TRAIN_ROWS:].max() / scores[:TRAIN_ROWS].max())
    return float(max(ratios)), len(pieces)


def iforest_flags(values: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(values[:TRAIN_ROWS])
    forest = IsolationForest(random_state=0).fit(scaler.transform(values[:TRAIN_ROWS]))
    return (forest.predict(scaler.transform(values[TRAIN_ROWS:])) == -1).astype(int)


def file_flags(values: np.ndarray, args, free_factor: float, seconds: dict) -> dict:
    """Every detector's 0/1 flags on one file's test rows (timing each)."""
    flags = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
        return out

    flags[DETECTORS[0]] = timed(DETECTORS[0], lambda: holdout_flags(values, args, detrend=True))
    flags[DETECTORS[1]] = timed(DETECTORS[1], lambda: holdout_flags(values, args, detrend=False))
    levels = timed("levels fit", lambda: online_scores(values, TRAIN_ROWS, args, detrend=False))
    train, test = levels[:TRAIN_ROWS], levels[TRAIN_ROWS:]
    flags[DETECTORS[2]] = (test > 1.5 * np.quantile(train, 0.99)).astype(int)
    flags[DETECTORS[3]] = (test > free_factor * train.max()).astype(int)
    flags[DETECTORS[4]] = timed(DETECTORS[4], lambda: iforest_flags(values))
    return flags


DETECTORS = (
    "daekit, slow channels detrended, holdout",
    "daekit, levels, holdout",
    "daekit, levels, 1.5 x q99",
    "daekit, levels, anomaly-free factor",
    "iforest",
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the SKAB folder (valve1/, valve2/, other/, anomaly-free/)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--window", type=int, default=60, help="window length (steps)")
    ap.add_argument("--model", default="mlp", choices=["mlp", "conv1d"], help="DAE network")
    ap.add_argument("--members", type=int, default=2, help="ensemble members")
    ap.add_argument("--noise-level", type=float, default=0.1, help="Gaussian noise std on the standardised data")
    ap.add_argument("--smooth", type=int, default=30, help="trailing mean of the scores over this many steps")
    ap.add_argument(
        "--detrend",
        type=int,
        default=200,
        help="DAEDetector(detrend=...): slow channels (lag-1 autocorrelation > 0.8 on the fitted "
        "rows) minus their trailing mean over this many steps (0: off)",
    )
    ap.add_argument("--seed", type=int, default=0, help="random_state of the detectors")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.data)
    t0 = time.perf_counter()
    free_factor, n_pieces = calibrate_factor(root, args)
    print(
        f"anomaly-free factor {free_factor:.2f} (no alarm on {n_pieces} pieces of the anomaly-free recording, "
        f"{time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    files = sorted(
        (p for d in ("valve1", "valve2", "other") for p in (root / d).glob("*.csv")),
        key=lambda p: (p.parent.name, int(p.stem)),
    )
    truth = {"dev": [], "rest": []}
    preds = {name: {"dev": [], "rest": []} for name in DETECTORS}
    seconds, per_file = {}, []
    for path in files:
        values, labels = read_file(path)
        split = "dev" if path.parent.name in DEV_FOLDERS else "rest"
        y = labels[TRAIN_ROWS:]
        truth[split].append(y)
        flags = file_flags(values, args, free_factor, seconds)
        row = {"file": f"{path.parent.name}/{path.name}", "split": split}
        for name, f in flags.items():
            preds[name][split].append(f)
            row[name] = rates(y, f)["f1"]
        per_file.append(row)
        print(f"{row['file']:16s} " + "  ".join(f"{row[n]:.3f}" for n in DETECTORS), flush=True)
    y = {s: np.concatenate(truth[s]) for s in truth}
    y["all"] = np.concatenate([y["dev"], y["rest"]])
    summary = {}
    for name in DETECTORS:
        p = {s: np.concatenate(preds[name][s]) for s in ("dev", "rest")}
        p["all"] = np.concatenate([p["dev"], p["rest"]])
        summary[name] = {s: rates(y[s], p[s]) for s in ("dev", "rest", "all")}
    seconds["daekit, levels, 1.5 x q99"] = seconds["daekit, levels, anomaly-free factor"] = seconds.pop("levels fit")
    print(
        f"\nSKAB, {len(files)} files, {len(y['all'])} test rows ({y['all'].mean():.1%} anomalous); dev = "
        f"{', '.join(DEV_FOLDERS)} ({len(y['dev'])} rows), rest = valve2 + other ({len(y['rest'])} rows)\n"
    )
    print("| detector (threshold without labels) | dev F1 / FAR % / MAR % | rest | all | s |\n|---|---|---|---|---|")
    for name in DETECTORS:
        cells = [f"{r['f1']:.3f} / {100 * r['far']:.1f} / {100 * r['mar']:.1f}" for r in summary[name].values()]
        print(f"| {name} | " + " | ".join(cells) + f" | {seconds[name]:.0f} |")
    print("| Conv-AE (published, all files) | | | 0.78 / 13.6 / 28.0 | |")
    if args.out:
        import daekit

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "anomaly_skab",
            "command": " ".join(sys.argv),
            "git_commit": git_commit(),
            "device": f"cpu ({platform.machine()}), {args.threads} torch thread(s)",
            "torch": torch.__version__,
            "daekit": daekit.__version__,
            "settings": vars(args),
            "dev_folders": list(DEV_FOLDERS),
            "anomaly_free_factor": free_factor,
            "summary": summary,
            "seconds": seconds,
            "per_file_f1": per_file,
        }
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
