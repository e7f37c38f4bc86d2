"""daekit.metrics.nab_score reproduces NAB's published per-file scores (SCORING.md)."""

import csv
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from daekit.metrics import nab_normalise, nab_probation, nab_score, nab_sigmoid

# The shared data folder sits beside the checkout (../shared/data); DAEKIT_DATA points elsewhere.
DATA = Path(os.environ.get("DAEKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
NAB = DATA / "anomaly" / "nab"
needs_data = pytest.mark.skipif(not NAB.exists(), reason="NAB data folder not present")

FEW_FILES = [
    "realKnownCause/nyc_taxi.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realTweets/Twitter_volume_AAPL.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
]
DETECTORS = ["numenta", "knncad", "skyline"]
PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]


def _published(detector, profile):
    path = NAB / "reference_results" / detector / f"{detector}_{profile}_scores.csv"
    return {r["File"]: float(r["Score"]) for r in csv.DictReader(open(path)) if r["File"]}


def _rescore(detector, profile, key):
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())[key]
    threshold = json.loads((NAB / "config" / "thresholds.json").read_text())[detector][profile]["threshold"]
    with gzip.open(NAB / "reference_results" / detector / f"{key}.gz", "rt") as fh:
        rows = list(csv.DictReader(fh))
    row_of = {r["timestamp"]: i for i, r in enumerate(rows)}
    spans = [(row_of[a.split(".")[0]], row_of[b.split(".")[0]]) for a, b in windows]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    return nab_score(scores, spans, threshold, profile)


def test_sigmoid_and_probation():
    assert nab_sigmoid(0.0) == 0.0
    assert nab_sigmoid(3.5) == -1.0
    assert nab_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab_probation(4032) == 604 and nab_probation(20000) == 750


def test_hand_made_file():
    s = np.zeros(1000)
    s[400] = 1.0  # earliest row of the window: full tpWeight
    s[100] = 1.0  # probationary: ignored
    s[160] = 1.0  # before the first window: -fpWeight
    s[900] = 1.0  # far after the window: -fpWeight
    assert nab_score(s, [(400, 450)], 0.5) == pytest.approx(1.0 - 0.11 - 0.11)
    assert nab_score(np.zeros(1000), [(400, 450)], 0.5, "reward_low_FN_rate") == -2.0
    assert nab_normalise(-116, 116) == 0.0 and nab_normalise(116, 116) == 100.0


@needs_data
@pytest.mark.parametrize("detector", DETECTORS)
def test_reproduces_published_per_file_scores(detector):
    published = _published(detector, "standard")
    for key in FEW_FILES:
        assert _rescore(detector, "standard", key) == pytest.approx(published[key], abs=1e-6), key


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("profile", PROFILES)
def test_reproduces_every_file_and_final_score(detector, profile):
    published = _published(detector, profile)
    total = 0.0
    for key, score in published.items():
        if not (NAB / "reference_results" / detector / f"{key}.gz").exists():
            total += score  # realTraffic is held back: add its published score
            continue
        mine = _rescore(detector, profile, key)
        assert mine == pytest.approx(score, abs=1e-6), key
        total += mine
    final = json.loads((NAB / "results" / "final_results.json").read_text())[detector][profile]
    assert nab_normalise(total, 116, profile) == pytest.approx(final, abs=1e-6)
