"""Pictures of learned features: the filter grid, the filter PNG and the map of codes."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from sklearn.datasets import load_digits

from daekit import DAEFeatureExtractor
from daekit.apps.features_plot import filter_grid, plot_codes, plot_filters


def test_filter_grid_scales_each_filter_and_rejects_bad_shapes():
    grid = filter_grid(np.random.default_rng(0).random((10, 8, 8)), columns=5)
    assert grid.shape == (2 * 9 + 1, 5 * 9 + 1) and grid.min() >= 0 and grid.max() <= 1
    with pytest.raises(ValueError, match="shape"):
        filter_grid(np.zeros((8, 8)))


def test_pictures(tmp_path):
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    fx = DAEFeatureExtractor(hidden_sizes=(16,), epochs=2, batch_size=32, num_threads=1, random_state=0).fit(X)
    assert fx.filters().shape == (16, 8, 8)
    for path in (plot_filters(fx, tmp_path / "f.png"), plot_codes(fx.transform(X), y, tmp_path / "c.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="same N"):
        plot_codes(fx.transform(X), y[:10], tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError):
        plot_codes(fx.transform(X), y, tmp_path / "missing" / "c.png")
