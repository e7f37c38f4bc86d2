"""DAEDetector: the PyOD/scikit-learn contract, thresholds, explanations, series, files."""

import random

import numpy as np
import pytest
import torch

from daekit import DAEDetector, ModelFileError

FAST = dict(n_estimators=2, epochs=5)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2))
    X = np.c_[z, z @ [[1.0, -0.5], [0.3, 1.0]], rng.normal(scale=0.1, size=(400, 2))]  # 6 correlated columns
    return X


@pytest.fixture(scope="module")
def fitted(table):
    return DAEDetector(contamination=0.05, random_state=0, **FAST).fit(table)


def test_contract(fitted, table):
    assert fitted.decision_scores_.shape == (400,) and fitted.n_features_in_ == 6
    assert fitted.labels_.mean() == pytest.approx(0.05, abs=0.01)
    assert set(np.unique(fitted.predict(table))) <= {0, 1}
    far = table[:20] + 8.0
    assert fitted.decision_function(far).min() > fitted.threshold_
    assert fitted.predict(far).tolist() == [1] * 20
    proba = fitted.predict_proba(np.r_[table[:5], far[:5]])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1) and (proba[5:, 1] == 1).all()
    np.testing.assert_allclose(fitted.score_samples(table[:3]), -fitted.decision_function(table[:3]))


def test_thresholds(table):
    det = DAEDetector(threshold="mad", threshold_k=3.0, random_state=0, **FAST).fit(table)
    s = det.decision_scores_
    med = np.median(s)
    assert det.threshold_ == pytest.approx(med + 3 * 1.4826 * np.median(np.abs(s - med)))
    det = DAEDetector(threshold=2.5, random_state=0, **FAST).fit(table)
    assert det.threshold_ == 2.5 and (det.labels_ == (det.decision_scores_ > 2.5)).all()
    with pytest.raises(ValueError, match="threshold"):
        DAEDetector(threshold="median").fit(table)


def test_explain_points_at_the_broken_feature(fitted, table):
    X = table[:50].copy()
    X[:, 2] += 5.0  # break one column
    shares = fitted.explain(X)
    assert shares.shape == (50, 6) and np.allclose(shares.sum(1), 1.0) and (shares >= 0).all()
    assert (shares.argmax(1) == 2).mean() > 0.9


def test_same_seed_same_scores_and_caller_rng_untouched(table):
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    before = (torch.rand(1).item(), np.random.rand(), random.random())
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    a = DAEDetector(random_state=3, **FAST).fit(table).decision_scores_
    after = (torch.rand(1).item(), np.random.rand(), random.random())
    b = DAEDetector(random_state=3, **FAST).fit(table).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert before[1:] == after[1:] and before[0] == after[0]


def test_save_load_round_trip(fitted, table, tmp_path):
    fitted.save(tmp_path / "det")
    loaded = DAEDetector.load(tmp_path / "det")
    np.testing.assert_allclose(loaded.decision_function(table), fitted.decision_function(table), rtol=1e-6)
    assert loaded.threshold_ == fitted.threshold_ and loaded.get_params() == fitted.get_params()
    with pytest.raises(ModelFileError):
        DAEDetector.load(tmp_path / "nothing")


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[1.0, np.nan]] * 10), "NaN or infinity"),
        (np.array([[1.0, np.inf]] * 10), "NaN or infinity"),
        (np.array([["1", "a"]] * 10), "non-numeric"),
        (np.ones((1, 3)), "at least 2"),
        (np.ones(5), "2-D"),
    ],
)
def test_bad_input_is_one_sentence(bad, message):
    with pytest.raises(ValueError, match=message):
        DAEDetector(**FAST).fit(bad)


def test_mismatch_unfitted_and_constant_columns(fitted, table):
    with pytest.raises(ValueError, match="expecting 6 features"):
        fitted.decision_function(table[:, :4])
    with pytest.raises(ValueError, match="not fitted"):
        DAEDetector().decision_function(table)
    X = np.c_[table, np.full(len(table), 7.0)]  # a constant column is harmless
    det = DAEDetector(random_state=0, **FAST).fit(X)
    assert np.isfinite(det.decision_scores_).all()
    X2 = X[:10].copy()
    X2[:, -1] = 9.0  # ... and a change in it is noticed
    assert det.decision_function(X2).min() > det.threshold_


def test_series_windows_online_and_conv1d():
    t = np.arange(1200)
    series = np.c_[np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 50)] + np.random.default_rng(0).normal(
        scale=0.05, size=(1200, 2)
    )
    test = series.copy()
    test[900:905, 0] += 1.5  # a short burst in one channel
    det = DAEDetector(window=25, stride=2, random_state=0, n_estimators=2, epochs=20).fit(series[:800])
    scores = det.decision_function(test)
    assert scores.shape == (1200,) and det.decision_scores_.shape == (800,)
    assert 880 <= scores.argmax() <= 925
    online = det.score_new(test[800:], history=test[:800])
    assert online.shape == (400,) and 895 <= 800 + online.argmax() <= 910
    assert online[-1] == pytest.approx(scores[-1])  # the last step has one window either way
    assert det.explain(test[880:910]).shape == (30, 2)
    conv = DAEDetector(window=24, model="conv1d", random_state=0, n_estimators=1, epochs=20).fit(series[:800])
    assert 24 + conv.decision_function(test)[24:-24].argmax() in range(880, 930)  # edges: fewer windows
    with pytest.raises(ValueError, match="fewer than one window"):
        det.decision_function(series[:10])


def test_check_estimator():
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    # Two checks assume scikit-learn's outlier convention (predict gives -1/+1 and
    # decision_function is negative for outliers); DAEDetector keeps PyOD's (0/1, higher =
    # more abnormal), which the issue asks for. Everything else must pass.
    expected = {
        "check_outliers_fit_predict": "predict returns 0/1 (PyOD convention), not -1/+1",
        "check_outliers_train": "decision_function is higher for outliers (PyOD convention)",
    }
    with pytest.warns(UserWarning, match="does not inherit"):
        results = check_estimator(
            DAEDetector(n_estimators=1, epochs=2, random_state=0), expected_failed_checks=expected, on_fail=None
        )
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed == set(), failed
    assert {r["check_name"] for r in results if r["status"] == "xfail"} == set(expected)


def test_detrend_ignores_slow_drift_but_not_sustained_faults(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(900)
    series = np.c_[
        0.01 * t + np.cumsum(rng.normal(scale=0.02, size=900)),  # a slow drift out of its range
        rng.normal(size=900),
        np.sin(2 * np.pi * t / 6) + rng.normal(scale=0.1, size=900),
    ]
    test = series.copy()
    test[700:800, 1] += 4.0  # a sustained fault in a fast channel
    kw = dict(window=20, random_state=0, n_estimators=1, epochs=10)
    plain = DAEDetector(**kw).fit(series[:400])
    robust = DAEDetector(detrend=100, **kw).fit(series[:400])
    assert plain.slow_channels_ == [] and robust.slow_channels_ == [0]
    s_plain = plain.score_new(test[400:], history=test[:400])
    s_robust = robust.score_new(test[400:], history=test[:400])
    normal, fault = slice(100, 300), slice(300, 400)  # test rows 500-700 and 700-800
    # the drift alone lifts the plain scores of normal rows far above those of the training
    # rows (scored online the same way); detrended, it does not
    train = {id(d): d.score_new(series[20:400], history=series[:20]) for d in (plain, robust)}
    assert np.median(s_plain[normal]) > 2 * np.median(train[id(plain)])
    assert np.median(s_robust[normal]) < 1.25 * np.median(train[id(robust)])
    assert np.median(s_robust[fault]) > s_robust[normal].max()
    # online = batch: any history of window + detrend - 2 steps or more gives the same scores
    short = robust.score_new(test[600:], history=test[600 - (20 + 100 - 2) : 600])
    np.testing.assert_allclose(short, s_robust[200:])
    assert robust.decision_function(test)[-1] == pytest.approx(s_robust[-1])
    robust.save(tmp_path / "det")
    loaded = DAEDetector.load(tmp_path / "det")
    assert loaded.slow_channels_ == [0] and loaded.detrend == 100
    np.testing.assert_allclose(loaded.score_new(test[600:], history=test[:600]), s_robust[200:])
    with pytest.raises(ValueError, match="detrend needs a window"):
        DAEDetector(detrend=100).fit(series)
    with pytest.raises(ValueError, match="detrend must be a whole number of 2 or more"):
        DAEDetector(window=20, detrend=1.5).fit(series)
