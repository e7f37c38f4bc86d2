"""daekit.apps.anomaly_windows: the causal trailing mean shared by detrending, the
anomaly likelihood and the SKAB smoother."""

import numpy as np

from daekit.apps.anomaly_windows import trailing_mean


def test_trailing_mean_matches_a_loop_for_series_and_channels():
    x = np.random.default_rng(0).normal(size=(50, 3))
    for k in (1, 4, 60):
        expected = np.stack([x[max(0, t - k + 1) : t + 1].mean(axis=0) for t in range(len(x))])
        np.testing.assert_allclose(trailing_mean(x, k), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(trailing_mean(x[:, 0], k), expected[:, 0], rtol=1e-12, atol=1e-12)


def test_trailing_mean_is_causal():
    x = np.random.default_rng(1).normal(size=80)
    np.testing.assert_array_equal(trailing_mean(x[:30], 7), trailing_mean(x, 7)[:30])
