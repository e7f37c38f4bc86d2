"""daekit.noise.estimate(kind="image") on spatially correlated (camera-like) noise: the
effective σ (RMS) and the ``correlated`` flag, white noise unchanged, the result's fields."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from daekit.noise_estimate import ImageNoiseLevel, ImageNoiseLevels, estimate, estimate_image
from daekit.noise_estimate_image import polyphase

DATA = Path(os.environ.get("DAEKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REAL = DATA / "images" / "realnoise"


def scene(size=256, seed=0):
    """A smooth made-up picture on 0-255: gradients, soft blobs, a few edges."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 70 + 90 * xx + 30 * np.sin(2 * np.pi * 1.5 * yy)
    for _ in range(5):
        cy, cx, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.05, 0.15)]
        img += 25 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img[size // 4 : size // 2, size // 2 : 3 * size // 4] += 30
    return img


def correlated_noise(shape, rms, seed=0):
    """White noise blurred by a 3×3 box (neighbour correlation 2/3), rescaled to RMS ``rms``."""
    w = np.random.default_rng(seed).standard_normal((shape[0] + 2, shape[1] + 2))
    blurred = sum(w[i : i + shape[0], j : j + shape[1]] for i in range(3) for j in range(3)) / 9
    return rms * blurred / blurred.std()


@pytest.mark.parametrize("rms", [3.0, 5.0, 12.0])
def test_correlated_noise_reads_its_rms_and_is_flagged(rms):
    clean = scene()
    noisy = clean + correlated_noise(clean.shape, rms, seed=int(rms))
    white_only = estimate_image(noisy, data_range=255, correlated=False)
    assert white_only < 0.6 * rms  # the white-noise estimate reads it far too low
    est = estimate(noisy, kind="image", data_range=255)
    assert isinstance(est, float) and isinstance(est, ImageNoiseLevel)
    assert est.correlated
    assert abs(est - rms) <= 0.2 * rms
    assert est.sigma_white == pytest.approx(float(white_only))
    assert est.scale_ratio > 1.5
    assert "correlated" in est.message


@pytest.mark.parametrize("sigma", [5.0, 15.0, 30.0])
def test_white_noise_is_not_flagged_and_reads_as_before(sigma):
    clean = scene(seed=1)
    noisy = clean + sigma * np.random.default_rng(int(sigma)).standard_normal(clean.shape)
    est = estimate_image(noisy, data_range=255)
    assert not est.correlated
    assert float(est) == float(estimate_image(noisy, data_range=255, correlated=False))
    assert abs(est - sigma) <= 0.1 * sigma
    assert "white" in est.message


def test_colour_correlated_noise_per_channel():
    clean = np.stack([scene(seed=c) for c in range(3)], axis=-1)
    rms = np.array([3.0, 5.0, 8.0])
    noise = np.stack([correlated_noise(clean.shape[:2], r, seed=10 + i) for i, r in enumerate(rms)], axis=-1)
    noisy = np.clip(np.rint(clean + noise), 0, 255).astype(np.uint8)
    est = estimate_image(noisy)
    assert isinstance(est, ImageNoiseLevels) and est.shape == (3,)
    assert est.correlated and est.sigma_white.shape == (3,)
    np.testing.assert_allclose(est, rms, rtol=0.2)
    doubled = 2 * est  # arithmetic gives a plain array, not an estimate
    assert type(doubled) is np.ndarray and type(float(np.mean(est))) is float
    assert est.to_dict()["correlated"] is True


def test_result_pickles_and_converts():
    clean = scene()
    est = estimate_image(clean + correlated_noise(clean.shape, 5.0), data_range=255)
    back = pickle.loads(pickle.dumps(est))
    assert float(back) == float(est) and back.correlated == est.correlated and back.sigma_white == est.sigma_white
    assert set(est.to_dict()) == {"sigma", "sigma_white", "correlated", "scale_ratio", "message"}
    colour = estimate_image(np.stack([clean + correlated_noise(clean.shape, 5.0, seed=c) for c in range(3)], -1))
    again = pickle.loads(pickle.dumps(colour))
    np.testing.assert_array_equal(again, colour)
    assert again.correlated == colour.correlated


def test_options_and_small_images():
    clean = scene()
    noisy = clean + correlated_noise(clean.shape, 5.0)
    assert not estimate_image(noisy, data_range=255, method="mad").correlated  # MAD assumes white noise
    assert estimate_image(noisy, data_range=255, correlated=True).correlated
    small = noisy[:24, :24]  # too small for 3×3 sub-images with their own patches: the white estimate
    assert not estimate_image(small, data_range=255, patch_size=5).correlated
    with pytest.raises(ValueError, match="correlated"):
        estimate_image(noisy, correlated="yes")
    assert estimate_image(np.full((64, 64), 7.0)) == 0.0


def test_polyphase_keeps_every_pixel_once():
    img = np.arange(36.0).reshape(6, 6)
    subs = polyphase(img, 3)
    assert len(subs) == 9 and all(s.shape == (2, 2) for s in subs)
    assert sorted(np.concatenate([s.ravel() for s in subs])) == list(range(36))


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real noisy/clean pairs are not here")
@pytest.mark.parametrize("name", ["polyu_dev", "nam25", "sidd12"])
def test_real_pairs_within_twenty_percent_of_the_residual_rms(name):
    from daekit.noise_estimate import read_image

    noisy_files = sorted((REAL / name).glob("*_noisy.*"))[:4]  # a few pairs keep the test fast
    est, rms = [], []
    for pn in noisy_files:
        y = read_image(pn)
        x = read_image(pn.with_name(pn.name.replace("_noisy.", "_clean."))).astype(np.float64)
        e = estimate_image(y)
        assert e.correlated and np.all(e > 0)  # never "no noise" on a real noisy photo
        est.append(float(np.sqrt(np.mean(np.square(e)))))
        rms.append(float(np.sqrt(np.mean((y - x) ** 2))))
    assert abs(np.mean(est) / np.mean(rms) - 1) <= 0.2
