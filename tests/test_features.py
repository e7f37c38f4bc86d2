"""DAEFeatureExtractor and DAEClassifier: scikit-learn contract, bad input, saving."""

import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from daekit import DAEClassifier, DAEFeatureExtractor, ModelFileError

# Small, fast settings: the contract does not depend on the size of the network.
FAST = dict(hidden_sizes=(16,), epochs=2, batch_size=32, num_threads=1, random_state=0)

# The one warning check_estimator emits for our classes: they implement scikit-learn's
# contract themselves instead of inheriting BaseEstimator, because scikit-learn is an
# optional dependency and `import daekit` must not load it (DESIGN.md's import rules).
NOT_BASE_ESTIMATOR = "does not inherit from `sklearn.base.BaseEstimator`"  # filtered below, on purpose


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


def test_fit_transform_shapes_dtypes_and_determinism(digits):
    X, _ = digits
    fx = DAEFeatureExtractor(**FAST).fit(X)
    Z = fx.transform(X)
    assert Z.shape == (400, 16) and Z.dtype == np.float64
    assert fx.transform(X.astype(np.float32)).dtype == np.float32
    assert np.all((Z >= 0) & (Z <= 1))  # sigmoid codes
    np.testing.assert_allclose(DAEFeatureExtractor(**FAST).fit_transform(X), Z, atol=1e-6)
    assert fx.n_features_in_ == 64 and fx.n_features_out_ == 16
    assert list(fx.get_feature_names_out()[:2]) == ["daefeatureextractor0", "daefeatureextractor1"]


def test_fit_leaves_global_rng_and_threads_alone(digits):
    X, _ = digits
    torch.manual_seed(123)
    np.random.seed(123)
    threads = torch.get_num_threads()
    expected_torch, expected_np = torch.rand(1), np.random.rand()
    torch.manual_seed(123)
    np.random.seed(123)
    DAEFeatureExtractor(**FAST).fit(X)
    assert torch.rand(1) == expected_torch and np.random.rand() == expected_np
    assert torch.get_num_threads() == threads


def test_training_learns_reconstruction(digits):
    X, _ = digits
    short = DAEFeatureExtractor(**{**FAST, "epochs": 1, "max_steps": 1}).fit(X)
    longer = DAEFeatureExtractor(**{**FAST, "epochs": 30, "hidden_sizes": (32,)}).fit(X)
    err = [np.mean((m.inverse_transform(m.transform(X)) - X) ** 2) for m in (short, longer)]
    assert err[1] < 0.5 * err[0]
    assert longer.inverse_transform(longer.transform(X[:3])).shape == (3, 64)


def test_stacked_layerwise_and_joint(digits):
    X, _ = digits
    fx = DAEFeatureExtractor(**{**FAST, "hidden_sizes": (24, 8)}).fit(X)
    assert fx.transform(X).shape == (400, 8) and len(fx.history_) == 2
    joint = DAEFeatureExtractor(**{**FAST, "hidden_sizes": (24, 8), "layerwise": False, "tied": False}).fit(X)
    assert joint.transform(X).shape == (400, 8) and len(joint.history_) == 1
    per_layer = DAEFeatureExtractor(**{**FAST, "hidden_sizes": (24, 8), "noise": ["masking:0.3", "gaussian:0.1"]})
    assert per_layer.fit_transform(X).shape == (400, 8)


def test_conv2d_extractor(digits):
    X, _ = digits
    fx = DAEFeatureExtractor(
        model="conv2d", hidden_sizes=(4, 8), image_shape=(8, 8), epochs=1, batch_size=64, num_threads=1, random_state=0
    ).fit(X)
    Z = fx.transform(X[:5])
    assert Z.shape == (5, 8 * 4 * 4)
    assert fx.inverse_transform(Z).shape == (5, 64)
    assert fx.filters().shape == (4, 3, 3)


def test_scalings(digits):
    X, _ = digits
    for scaling in ("standard", "none"):
        fx = DAEFeatureExtractor(**{**FAST, "scaling": scaling, "noise": "gaussian:0.2"}).fit(X)
        assert np.isfinite(fx.transform(X)).all()
        assert fx.dae_.loss == "mse"


def test_bad_input_sentences(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        DAEFeatureExtractor().transform(X)
    fx = DAEFeatureExtractor(**FAST).fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but DAEFeatureExtractor is expecting 64"):
        fx.transform(X[:, :10])
    bad = X.copy()
    bad[3, 5] = np.nan
    for call in (fx.transform, DAEFeatureExtractor(**FAST).fit):
        with pytest.raises(ValueError, match="NaN or infinity.*finite numbers"):
            call(bad)
    with pytest.raises(ValueError, match="2D array"):
        fx.transform(X[0])
    with pytest.raises(ValueError, match="expecting 16 features"):
        fx.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="scaling="):
        DAEFeatureExtractor(**{**FAST, "scaling": "log"}).fit(X)
    with pytest.raises(ValueError, match="hidden_sizes="):
        DAEFeatureExtractor(**{**FAST, "hidden_sizes": (0,)}).fit(X)
    with pytest.raises(ValueError, match="unknown noise"):
        DAEFeatureExtractor(**{**FAST, "noise": "blur:2"}).fit(X)
    with pytest.raises(ValueError, match="one per layer"):
        DAEFeatureExtractor(**{**FAST, "noise": ["masking:0.1"] * 3}).fit(X)
    with pytest.raises(ValueError, match="image_shape"):
        DAEFeatureExtractor(**{**FAST, "model": "conv2d", "image_shape": (5, 5)}).fit(X)


def test_save_load_round_trip(digits, tmp_path):
    X, _ = digits
    fx = DAEFeatureExtractor(**{**FAST, "hidden_sizes": (16, 8)}).fit(X)
    fx.save(tmp_path / "m")
    back = DAEFeatureExtractor.load(tmp_path / "m")
    np.testing.assert_array_equal(back.transform(X), fx.transform(X))
    assert back.get_params()["hidden_sizes"] == (16, 8)
    (tmp_path / "m" / "config.json").write_text('{"format": "daekit", "class": "ImageDenoiser"}')
    with pytest.raises(ModelFileError, match="not a DAEFeatureExtractor"):
        DAEFeatureExtractor.load(tmp_path / "m")
    with pytest.raises(ModelFileError):
        DAEFeatureExtractor.load(tmp_path / "missing")


def test_clone_pipeline_gridsearch(digits):
    X, y = digits
    fx = DAEFeatureExtractor(**FAST)
    twin = clone(fx)
    assert twin.get_params() == fx.get_params() and twin is not fx
    assert "hidden_sizes=(16,)" in repr(fx)
    with pytest.raises(ValueError, match="Invalid parameter 'size'"):
        fx.set_params(size=3)
    pipe = make_pipeline(DAEFeatureExtractor(**FAST), LogisticRegression(max_iter=300))
    grid = GridSearchCV(pipe, {"daefeatureextractor__hidden_sizes": [(8,), (16,)]}, cv=2).fit(X, y)
    assert grid.best_params_["daefeatureextractor__hidden_sizes"] in [(8,), (16,)]
    assert grid.score(X, y) > 0.5


def test_check_estimator_extractor():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not inherit from")
        results = check_estimator(
            DAEFeatureExtractor(hidden_sizes=(8,), epochs=2, batch_size=16, num_threads=1), on_fail=None
        )
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert failed == []
    # Only skips are checks whose optional inputs (array API, pandas) are not installed here.
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {
        "check_array_api_input",
        "check_dataframe_column_names_consistency",
        "check_transformer_get_feature_names_out_pandas",
        "check_transformer_data_not_an_array",
    }


def test_classifier_fit_predict(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    clf = DAEClassifier(
        hidden_sizes=(32, 16), pretrain_epochs=2, epochs=30, batch_size=32, lr=1e-2, num_threads=1, random_state=0
    ).fit(X, labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (400, 10) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, labels) > 0.8
    assert len(clf.history_) == 3  # two pretrained layers, then fine-tuning
    assert clf.encode(X).shape == (400, 16)
    scratch = DAEClassifier(
        hidden_sizes=(32, 16), pretrain=False, epochs=2, batch_size=32, num_threads=1, random_state=0
    ).fit(X, labels)
    assert len(scratch.history_) == 1
    with pytest.raises(NotFittedError):
        DAEClassifier().predict(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        DAEClassifier(**{**FAST, "pretrain_epochs": 1}).fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.slow
def test_check_estimator_classifier():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not inherit from")  # NOT_BASE_ESTIMATOR
        results = check_estimator(
            DAEClassifier(hidden_sizes=(16,), pretrain_epochs=2, epochs=40, batch_size=16, lr=1e-2, num_threads=1),
            on_fail=None,
        )
    assert [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"] == []
