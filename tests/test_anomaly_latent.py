"""The latent term's robust fit: anomalies among the training codes must not stretch it."""

from __future__ import annotations

import numpy as np
import pytest

from daekit import DAEDetector
from daekit.apps.anomaly_score import robust_gaussian


def _contaminated(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    inliers = rng.normal(size=(900, 3))
    outliers = rng.normal(loc=8.0, scale=0.5, size=(100, 3))  # 10 % of the rows, far out
    return np.concatenate([inliers, outliers]), inliers


def test_keeping_every_code_is_the_plain_fit():
    z, _ = _contaminated()
    mu, prec = robust_gaussian(z, keep=1.0)
    np.testing.assert_allclose(mu, z.mean(axis=0))
    cov = np.cov(z, rowvar=False)
    cov = cov + (1e-3 * np.trace(cov) / 3 + 1e-9) * np.eye(3)
    np.testing.assert_allclose(prec, np.linalg.inv(cov), rtol=1e-10)


def test_the_robust_fit_follows_the_inliers_and_pushes_the_outliers_out():
    z, inliers = _contaminated()
    plain_mu, plain_prec = robust_gaussian(z, keep=1.0)
    mu, prec = robust_gaussian(z, keep=0.7)
    # The plain mean is dragged about 0.8 towards the outliers; the robust one stays near 0.
    assert np.abs(mu).max() < 0.15 < np.abs(plain_mu).min()

    def dist(p, m, x):
        return np.einsum("ij,jk,ik->i", x - m, p, x - m)

    # Outliers move from a few units of distance to far beyond any inlier.
    assert dist(plain_prec, plain_mu, z[900:]).min() < dist(plain_prec, plain_mu, inliers).max()
    assert dist(prec, mu, z[900:]).min() > 5 * np.quantile(dist(prec, mu, inliers), 0.99)


def test_latent_keep_changes_only_the_latent_fit(tmp_path):
    z, _ = _contaminated(1)
    kw = dict(random_state=0, epochs=2, n_estimators=2)
    plain = DAEDetector(latent_keep=1.0, **kw).fit(z)
    robust = DAEDetector(latent_keep=0.7, **kw).fit(z)
    for a, b in zip(plain.members_, robust.members_):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
    assert not np.allclose(plain.latent_mean_[0], robust.latent_mean_[0])
    loaded = DAEDetector.load(robust.save(tmp_path / "det"))
    assert loaded.latent_keep == 0.7
    np.testing.assert_allclose(loaded.decision_function(z), robust.decision_function(z))


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan")])
def test_a_latent_keep_outside_zero_to_one_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="latent_keep"):
        DAEDetector(latent_keep=bad).fit(np.random.default_rng(0).normal(size=(50, 3)))


def test_geometric_combination_is_the_geometric_mean_of_member_scores():
    from daekit.apps.anomaly_score import combine_members

    a, b = np.array([1.0, 4.0, 0.0]), np.array([4.0, 1.0, 9.0])
    np.testing.assert_allclose(combine_members([a, b], "geometric"), [2.0, 2.0, 0.0], atol=1e-100)
    np.testing.assert_allclose(combine_members([a, b], "mean"), [2.5, 2.5, 4.5])


def test_combine_mean_keeps_the_arithmetic_scores_and_a_bad_name_is_refused():
    z, _ = _contaminated(2)
    kw = dict(random_state=0, epochs=2, n_estimators=2)
    geo = DAEDetector(**kw).fit(z)
    mean = DAEDetector(combine="mean", **kw).fit(z)
    s_geo, s_mean = geo.decision_function(z), mean.decision_function(z)
    assert np.all(s_geo <= s_mean + 1e-9)  # AM-GM, member by member the same fits
    assert np.corrcoef(s_geo, s_mean)[0, 1] > 0.9
    with pytest.raises(ValueError, match="combine"):
        DAEDetector(combine="median").fit(z)


def test_a_folder_saved_without_the_new_settings_scores_as_it_was_fitted(tmp_path):
    import json

    z, _ = _contaminated(3)
    det = DAEDetector(combine="mean", latent_keep=1.0, random_state=0, epochs=2, n_estimators=2).fit(z)
    folder = det.save(tmp_path / "old")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["params"]["combine"], cfg["params"]["latent_keep"]  # as an earlier version wrote it
    (folder / "config.json").write_text(json.dumps(cfg))
    old = DAEDetector.load(folder)
    assert (old.combine, old.latent_keep) == ("mean", 1.0)
    np.testing.assert_allclose(old.decision_function(z), det.decision_function(z))
