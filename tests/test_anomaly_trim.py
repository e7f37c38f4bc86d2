"""The trimmed training loss: rows the network reconstructs worst stop counting half-way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import daekit as dk
from daekit.apps.anomaly_trim import TrimmedObjective


def _objective(keep, start):
    torch.manual_seed(0)
    dae = dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=3, hidden_sizes=[4, 2]))  # no noise
    return TrimmedObjective(dae, keep, start), dae


def test_before_the_start_every_row_counts_as_in_the_plain_loss():
    objective, dae = _objective(keep=0.5, start=2)
    x = torch.randn(8, 3)
    for _ in range(2):
        assert objective(x).item() == pytest.approx(dae(x).item())


def test_after_the_start_only_the_best_reconstructed_rows_count():
    objective, dae = _objective(keep=0.5, start=0)
    x = torch.randn(8, 3)
    x[0] += 50.0  # one row no untrained network reconstructs
    with torch.no_grad():
        per_row = (dae.model(x) - x).pow(2).mean(dim=1)
    kept = per_row[per_row <= torch.quantile(per_row, 0.5)]
    assert objective(x).item() == pytest.approx(kept.mean().item())
    assert objective(x).item() < dae(x).item() / 10  # the far row no longer dominates


def test_evaluation_calls_neither_count_nor_trim():
    objective, dae = _objective(keep=0.5, start=0)
    objective.eval()
    x = torch.randn(8, 3)
    assert objective(x).item() == pytest.approx(dae(x).item()) and objective.calls == 0


def test_detector_with_trim_fits_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[:10] += 6.0
    det = dk.DAEDetector(trim=0.9, n_estimators=2, epochs=4, random_state=0).fit(X)
    scores = det.decision_function(X)
    assert scores[:10].mean() > np.median(scores[10:]) and "trim=0.9" in repr(det)
    det.save(tmp_path / "m")
    loaded = dk.DAEDetector.load(tmp_path / "m")
    assert loaded.trim == 0.9
    np.testing.assert_allclose(loaded.decision_function(X), scores)


@pytest.mark.parametrize("bad", [0, 1.5, float("nan"), "most"])
def test_a_trim_outside_zero_to_one_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="^trim must be"):
        dk.DAEDetector(trim=bad).fit(np.random.default_rng(0).normal(size=(50, 2)))
