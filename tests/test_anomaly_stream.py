"""daekit.apps.anomaly_stream: likelihood, range novelty, quiet alarms, StreamDetector."""

import numpy as np
import pytest

from daekit.apps.anomaly_stream import StreamDetector, anomaly_likelihood, quiet_alarms, range_novelty


def test_likelihood_flags_a_jump_in_error_and_not_a_steady_one():
    rng = np.random.default_rng(0)
    e = np.exp(rng.normal(size=500))
    e[400] = np.exp(8.0)  # 8 standard deviations above the usual log-error
    lik = anomaly_likelihood(e, start=100)
    assert np.all(lik[:100] == 0) and lik[400] > 0.999
    assert np.median(lik[100:400]) == pytest.approx(0.5, abs=0.1)
    assert np.all((lik >= 0) & (lik <= 1))


def test_likelihood_of_constant_errors_is_finite():
    lik = anomaly_likelihood(np.zeros(50), start=0)  # log of 0 is clipped; spread floored
    assert np.all(np.isfinite(lik)) and np.allclose(lik, 0.5)


def test_likelihood_uses_only_the_trailing_history():
    e = np.r_[np.full(100, 100.0), np.ones(200)]
    # With a short history the old high errors are forgotten: a unit error is ordinary.
    assert anomaly_likelihood(e, history=50)[-1] == pytest.approx(0.5)
    assert anomaly_likelihood(e, history=300)[-1] < 0.5


def test_range_novelty_widens_the_range_seen_before():
    assert range_novelty([0.0, 1.0, 0.5, 1.02, 1.2]).tolist() == [0, 0, 0, 0, 1]
    assert range_novelty([0.0, 1.0, -0.2], tolerance=0.0).tolist() == [0, 0, 1]
    assert range_novelty([0.0, 1.0, 5.0], start=3).tolist() == [0, 0, 0]
    two = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 3.0]])  # any channel makes a step novel
    assert range_novelty(two).tolist() == [0, 0, 1]


def test_quiet_alarms():
    assert quiet_alarms([0, 1, 1, 1, 0, 1], 0.5, quiet=2).tolist() == [0, 1, 0, 0, 0, 1]
    assert quiet_alarms([1, 1, 1], 0.5, quiet=0).tolist() == [1, 1, 1]
    assert quiet_alarms([0.2, 0.3], 0.5, quiet=5).tolist() == [0, 0]


def _series(n=1200, spike=1000):
    t = np.arange(n, dtype=float)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(0).normal(size=n)
    x[spike] = 3.0
    return x


def test_stream_detector_alarms_at_a_spike_only():
    x = _series()
    sd = StreamDetector(window=40, random_state=0)
    scores = sd.fit_score(x)
    assert sd.train_rows_ == 180 and np.all(scores[:180] == 0)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.flatnonzero(sd.alarms()).tolist() == [1000]


def test_stream_detector_is_causal():
    """A step's score depends only on the steps up to it: cutting the future off changes nothing."""
    x = _series()
    full = StreamDetector(window=40, train_rows=200, random_state=0).fit_score(x)
    cut = StreamDetector(window=40, train_rows=200, random_state=0).fit_score(x[:700])
    np.testing.assert_allclose(cut, full[:700], rtol=1e-9, atol=1e-12)


def test_stream_detector_needs_enough_rows():
    with pytest.raises(ValueError, match="less than one window"):
        StreamDetector(window=64, train_rows=30).fit_score(np.arange(500.0))
    with pytest.raises(ValueError, match="nothing to score"):
        StreamDetector(window=8, train_rows=100).fit_score(np.arange(100.0))


def test_stream_detector_sizes_windows_from_the_training_rows():
    x = _series(n=600, spike=500)
    sd = StreamDetector(random_state=0)
    sd.fit_score(x)
    assert (sd.train_rows_, sd.window_) == (90, 22)  # 15 % of 600; a quarter of that
    assert StreamDetector()._sizes(20000) == (750, 128)


@pytest.mark.parametrize("bad", [{"window": 1}, {"window": "long"}, {"train_rows": 0.5}, {"window": True}])
def test_stream_detector_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="must be 'auto' or a whole number of 2 or more"):
        StreamDetector(**bad).fit_score(np.arange(500.0))


@pytest.mark.parametrize(
    "bad", [{"threshold": 2.0}, {"threshold": float("nan")}, {"quiet": -1}, {"n_estimators": 0}, {"history": 0}]
)
def test_stream_detector_refuses_out_of_range_settings(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"^{name} must be"):
        StreamDetector(**bad).fit_score(np.arange(500.0))
