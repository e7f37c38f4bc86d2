"""DAEDetector.feature_names_ is fitted state: set by every fit, kept by save/load.

It used to exist only when the CLI or load() had set it, so Python code reading it off a
freshly fitted detector failed with AttributeError (mypy found the undeclared attribute)."""

import numpy as np

import daekit as dk


def test_fit_sets_feature_names_and_save_load_keeps_them(tmp_path):
    X = np.random.default_rng(0).normal(size=(120, 3))
    det = dk.DAEDetector(random_state=0, epochs=1, n_estimators=1).fit(X)
    assert det.feature_names_ == []
    det.feature_names_ = ["a", "b", "c"]
    det.save(tmp_path / "det")
    assert dk.DAEDetector.load(tmp_path / "det").feature_names_ == ["a", "b", "c"]
