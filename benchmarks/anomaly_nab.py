"""NAB (BENCHMARKS.md §4): DAEDetector on every shared NAB file, scored with NAB's procedure.

For each file the detector is fitted on the probationary period only (the first
min(15 %, 750) rows, which NAB does not score) and then scores each later row from the
window that ends at it, so no row sees the future (NAB's rule for every detector). The
raw reconstruction errors become a [0, 1] anomaly likelihood, like Numenta HTM's: the
Gaussian tail probability of the mean log-error of the last few steps against the mean
and spread of the log-errors over a long trailing history. After an alarm the detector
stays quiet for ``--gap`` steps. As NAB does for every
detector, one threshold per profile is chosen to maximise the corpus score; the
reference detectors use their published thresholds and are rescored on the same files.
Scores are normalised to NAB's 0 (no detections) .. 100 (perfect) over these files'
windows (realTraffic is held back, so totals differ from the published 58-file ones).

Usage:
    python benchmarks/anomaly_nab.py --data ../shared/data/anomaly/nab --out benchmarks/results/anomaly_nab.json
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from daekit import DAEDetector
from daekit.metrics import NAB_PROFILES, nab_normalise, nab_probation, nab_score
from common import git_commit

REFERENCE = ["numenta", "knncad", "skyline", "windowedGaussian", "ARTime"]


def read_values(path: Path):
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return [r["timestamp"] for r in rows], np.array([float(r["value"]) for r in rows])


def window_rows(windows, timestamps):
    row_of = {t: i for i, t in enumerate(timestamps)}
    return [(row_of[a.split(".")[0]], row_of[b.split(".")[0]]) for a, b in windows]


def likelihood(errors: np.ndarray, start: int, short: int, long: int, min_sd: float = 0.0) -> np.ndarray:
    """Tail probability of the short-term mean log-error against the trailing history.

    Row t uses only errors up to t. Rows before ``start`` (the training period) get 0.
    """
    from math import erf

    log_e = np.log(np.maximum(errors, 1e-12))
    csum = np.concatenate([[0.0], np.cumsum(log_e)])
    csq = np.concatenate([[0.0], np.cumsum(log_e ** 2)])
    out = np.zeros(len(errors))
    for t in range(start, len(errors)):
        a = max(0, t + 1 - long)
        n = t + 1 - a
        mu = (csum[t + 1] - csum[a]) / n
        # min_sd: a near-perfectly predictable series must not turn float noise into alarms
        sd = max(math.sqrt(max((csq[t + 1] - csq[a]) / n - mu * mu, 1e-12)), min_sd)
        recent = (csum[t + 1] - csum[t + 1 - short]) / short
        z = (recent - mu) / sd
        out[t] = 0.5 * (1.0 + erf(z / math.sqrt(2.0)))
    return out


def detect_file(values: np.ndarray, args) -> tuple[np.ndarray, float]:
    """[0, 1] anomaly likelihood per row, and the seconds it took (fit + score)."""
    n = len(values)
    probation = nab_probation(n)
    t0 = time.perf_counter()
    def fitted(rows):
        return DAEDetector(window=args.window, stride=1, n_estimators=args.members, random_state=0,
                           noise_level=args.noise_level, scaler=args.scaler).fit(rows)

    det = fitted(values[:probation])
    errors = np.zeros(n)
    # The training rows are not scored by NAB; their (in-sample) online scores only start
    # the likelihood's history.
    w = args.window
    errors[w - 1:probation] = det.score_new(values[w - 1:probation], values[:w - 1], reduce=args.reduce)
    errors[:w - 1] = errors[w - 1]
    # Online use: each row after the training part is scored from the window ending at it;
    # with --growth the detector is refitted on all past rows at probation x growth^k.
    start = probation
    while start < n:
        end = min(n, int(math.ceil(start * args.growth))) if args.growth > 1 else n
        if start > probation:
            det = fitted(values[:start])
        errors[start:end] = det.score_new(values[start:end], values[:start], reduce=args.reduce)
        start = end
    scores = likelihood(errors, probation, args.short, args.long, args.min_sd)
    return scores, time.perf_counter() - t0


def detections(scores: np.ndarray, threshold: float, gap: int) -> np.ndarray:
    """0/1 detections: score >= threshold, but at most one per ``gap`` steps.

    After an alarm the detector stays quiet for ``gap`` steps (an operator has been
    told; the same event would only repeat the alarm). Causal: it uses only the past.
    """
    out = np.zeros(len(scores))
    last = -(10 ** 9)
    for i in np.flatnonzero(scores >= threshold):
        if i - last > gap:
            out[i] = 1.0
            last = i
    return out


def best_threshold(per_file, windows_of, profile, gap):
    """NAB's threshold choice: the one value that maximises the corpus raw score."""
    grid = np.unique(np.concatenate([np.linspace(0.5, 0.99, 50), 1 - np.logspace(-2, -6, 41)]))
    totals = [sum(nab_score(detections(s, thr, gap), windows_of[k], 0.5, profile) for k, s in per_file.items())
              for thr in grid]
    i = int(np.argmax(totals))
    return float(grid[i]), float(totals[i])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the NAB folder (data/, labels/, config/, reference_results/)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--window", type=int, default=128, help="DAE window length (steps)")
    ap.add_argument("--members", type=int, default=2, help="ensemble members")
    ap.add_argument("--noise-level", type=float, default=0.1, help="Gaussian noise std on the scaled data")
    ap.add_argument("--scaler", default="minmax", help="scaler of the DAEDetector")
    ap.add_argument("--growth", type=float, default=0.0,
                    help="refit on all past rows when the scored part reaches growth x its start (0: never)")
    ap.add_argument("--short", type=int, default=1, help="steps averaged for the likelihood")
    ap.add_argument("--long", type=int, default=3000, help="trailing history of the likelihood")
    ap.add_argument("--min-sd", type=float, default=0.5, help="floor of the log-error spread in the likelihood")
    ap.add_argument("--reduce", default="window", choices=["last", "window"],
                    help="online score: error of the newest step, or mean error of the newest window")
    ap.add_argument("--gap", type=int, default=200, help="quiet steps after an alarm")
    ap.add_argument("--files", default="", help="comma-separated name fragments (default: every file)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.data)
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    thresholds = json.loads((root / "config" / "thresholds.json").read_text())
    keys = sorted(str(p.relative_to(root / "data")) for p in (root / "data").glob("*/*.csv"))
    if args.files:
        keys = [k for k in keys if any(f in k for f in args.files.split(","))]

    ours, windows_of, seconds = {}, {}, {}
    for key in keys:
        timestamps, values = read_values(root / "data" / key)
        windows_of[key] = window_rows(windows[key], timestamps)
        ours[key], seconds[key] = detect_file(values, args)
        print(f"{key:70s} {len(values):6d} rows {seconds[key]:6.1f} s", flush=True)
    n_windows = sum(len(w) for w in windows_of.values())

    results = {}
    for profile in NAB_PROFILES:
        thr, raw = best_threshold(ours, windows_of, profile, args.gap)
        results.setdefault("daekit", {})[profile] = {"threshold": thr, "raw": raw,
                                                     "score": nab_normalise(raw, n_windows, profile)}
    for det in REFERENCE:
        for profile in NAB_PROFILES:
            thr = thresholds[det][profile]["threshold"]
            raw = 0.0
            for key in keys:
                with gzip.open(root / "reference_results" / det / f"{key}.gz", "rt") as fh:
                    s = np.array([float(r["anomaly_score"]) for r in csv.DictReader(fh)])
                raw += nab_score(s, windows_of[key], thr, profile)
            results.setdefault(det, {})[profile] = {"threshold": thr, "raw": raw,
                                                    "score": nab_normalise(raw, n_windows, profile)}

    print(f"\nNAB scores on {len(keys)} files ({n_windows} windows), 0 = no detections, 100 = perfect\n")
    print("| detector | standard | reward_low_FP_rate | reward_low_FN_rate |\n|---|---|---|---|")
    for det, by_profile in sorted(results.items(), key=lambda kv: -kv[1]["standard"]["score"]):
        print(f"| {det} | " + " | ".join(f"{by_profile[p]['score']:.1f}" for p in NAB_PROFILES) + " |")
    print(f"\ndaekit thresholds: " + ", ".join(f"{p} {results['daekit'][p]['threshold']:.6f}" for p in NAB_PROFILES))
    print(f"daekit time: {sum(seconds.values()):.1f} s for {len(keys)} files")
    if args.out:
        import daekit

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {"benchmark": "anomaly_nab", "command": " ".join(sys.argv), "git_commit": git_commit(),
                  "device": f"cpu ({platform.machine()}), {args.threads} torch thread(s)",
                  "torch": torch.__version__, "daekit": daekit.__version__, "settings": vars(args),
                  "files": keys, "n_windows": n_windows, "results": results,
                  "seconds_per_file": seconds}
        out.write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
