"""daekit.noise.estimate: image σ, audio floor/SNR, table and series scales; bad input."""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import daekit
from daekit.cli import main
from daekit.noise_estimate import NO_NOISE, estimate, estimate_audio, estimate_image, estimate_table


def textured_image(size=192, seed=0):
    """A smooth gradient, blocks with edges and a stripe texture, on 0-255."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 60 + 100 * xx + 40 * np.sin(2 * np.pi * 3 * yy)
    img[size // 4 : size // 2, size // 4 : size // 2] += 50
    img[size // 2 :, : size // 3] += 30 * np.sin(2 * np.pi * 12 * xx[size // 2 :, : size // 3])
    return img


@pytest.fixture(scope="module")
def camera():
    skimage = pytest.importorskip("skimage")
    return skimage.data.camera().astype(np.float64)


@pytest.mark.parametrize("sigma", [5, 15, 30])
def test_gray_image_sigma_within_ten_percent(camera, sigma):
    noisy = camera + sigma * np.random.default_rng(sigma).standard_normal(camera.shape)
    est = estimate(noisy, kind="image", data_range=255)
    assert isinstance(est, float)
    assert abs(est - sigma) <= 0.1 * sigma


def test_pca_is_more_robust_to_texture_than_mad(camera):
    noisy = camera + 5 * np.random.default_rng(1).standard_normal(camera.shape)
    pca = estimate_image(noisy, data_range=255)
    mad = estimate_image(noisy, method="mad", data_range=255)
    assert abs(pca - 5) < abs(mad - 5)


def test_colour_gives_one_sigma_per_channel():
    rng = np.random.default_rng(0)
    clean = np.stack([textured_image(seed=c) for c in range(3)], axis=-1)
    sigmas = np.array([5.0, 15.0, 30.0])
    est = estimate_image(clean + sigmas * rng.standard_normal(clean.shape), data_range=255)
    assert est.shape == (3,)
    np.testing.assert_allclose(est, sigmas, rtol=0.1)


def test_float_image_on_unit_range_and_tensor_layout():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    clean = textured_image() / 255
    noisy = clean + (20 / 255) * rng.standard_normal(clean.shape)
    assert abs(estimate_image(noisy) - 20) <= 2  # data_range guessed as 1.0, σ reported on 0-255
    chw = torch.from_numpy(np.stack([noisy, noisy]))  # (C, H, W) tensor
    np.testing.assert_allclose(estimate_image(chw), estimate_image(noisy), rtol=1e-6)


def test_uint8_image():
    rng = np.random.default_rng(0)
    noisy = np.clip(textured_image() + 10 * rng.standard_normal((192, 192)), 0, 255).round().astype(np.uint8)
    assert abs(estimate_image(noisy) - 10) <= 1.0


@pytest.mark.parametrize("value", [0.0, 128.0, 1.0])
def test_constant_image_means_no_noise_not_nan(value):
    assert estimate_image(np.full((64, 64), value)) == 0.0
    est = estimate_image(np.full((64, 64, 3), value))
    assert np.all(est == 0.0) and not np.any(np.isnan(est))


def test_clean_smooth_image_is_near_zero():
    assert estimate_image(textured_image(), data_range=255) < 1.0


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((8, 8)), "at least"),
        (np.full((64, 64), np.nan), "NaN"),
        (np.zeros((2, 3, 64, 64)), "shape"),
        (np.array([]), "empty"),
    ],
)
def test_bad_images_raise_one_sentence(bad, match):
    with pytest.raises(ValueError, match=match):
        estimate_image(bad)


def test_unknown_kind_and_method():
    with pytest.raises(ValueError, match="kind"):
        estimate(np.zeros((32, 32)), kind="video")
    with pytest.raises(ValueError, match="method"):
        estimate_image(np.zeros((32, 32)), method="bm3d")


# -- audio -------------------------------------------------------------------------------


def speech_like(rate=8000, seconds=2.0, seed=0):
    """Tone bursts with pauses, like words."""
    t = np.arange(int(rate * seconds)) / rate
    gate = (np.sin(2 * np.pi * 1.5 * t) > 0.2).astype(float)
    return 0.3 * np.sin(2 * np.pi * 300 * t) * gate


def test_audio_floor_and_snr():
    rng = np.random.default_rng(0)
    clean = speech_like()
    noise = 0.01 * rng.standard_normal(clean.size)
    est = estimate_audio(clean + noise, sample_rate=8000)
    assert abs(est.noise_rms - 0.01) <= 0.001
    true_snr = 10 * math.log10(np.mean(clean**2) / np.mean(noise**2))
    assert abs(est.snr_db - true_snr) <= 1.0
    assert "SNR" in est.message


def test_silence_is_a_clear_answer():
    est = estimate_audio(np.zeros(8000), sample_rate=8000)
    assert est.noise_rms == 0.0 and est.snr_db is None and NO_NOISE in est.message
    json.dumps(est.to_dict())  # no NaN sneaks into JSON


def test_steady_noise_has_no_snr():
    est = estimate_audio(0.1 * np.random.default_rng(0).standard_normal(16000), sample_rate=16000)
    assert est.snr_db is None and "steady" in est.message


def test_bad_audio():
    with pytest.raises(ValueError, match="frames"):
        estimate_audio(np.ones(10), sample_rate=8000)
    with pytest.raises(ValueError, match="NaN"):
        estimate_audio(np.full(8000, np.nan), sample_rate=8000)


# -- tables and series ---------------------------------------------------------------------


def test_table_scale_missing_and_constant_columns():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 2.0, 2000), rng.normal(5, 0.5, 2000), np.full(2000, 3.0)]
    x[:200, 1] = np.nan
    est = estimate_table(x)
    np.testing.assert_allclose(est.scale[:2], [2.0, 0.5], rtol=0.1)
    assert est.scale[2] == 0.0 and est.constant == [2]
    np.testing.assert_allclose(est.missing, [0.0, 0.1, 0.0])
    assert NO_NOISE in est.message and "missing" in est.message
    assert not np.any(np.isnan(est.scale))


def test_table_all_missing_column_counts_as_constant():
    x = np.c_[np.arange(10.0), np.full(10, np.nan)]
    est = estimate_table(x)
    assert est.constant == [1] and est.missing[1] == 1.0


def test_series_noise_sigma_ignores_the_trend():
    t = np.linspace(0, 20, 8000)
    rng = np.random.default_rng(0)
    x = np.c_[10 * np.sin(t) + 0.2 * rng.standard_normal(t.size), 3 * t + 0.05 * rng.standard_normal(t.size)]
    est = estimate(x, kind="series")
    np.testing.assert_allclose(est.scale, [0.2, 0.05], rtol=0.1)


def test_table_rejects_infinity():
    with pytest.raises(ValueError, match="infinite"):
        estimate_table(np.array([[1.0], [np.inf]]))


# -- files, wrapper and CLI -------------------------------------------------------------------


def test_files_of_each_kind(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    sf = pytest.importorskip("soundfile")
    rng = np.random.default_rng(0)
    img = np.clip(textured_image() + 12 * rng.standard_normal((192, 192)), 0, 255).round().astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    sf.write(tmp_path / "a.wav", speech_like() + 0.01 * rng.standard_normal(16000), 8000)
    (tmp_path / "a.csv").write_text("a,b\n1,2\n2,nan\n3,2\n4,2\n")
    assert abs(estimate(tmp_path / "a.png") - 12) <= 1.2
    assert abs(estimate(tmp_path / "a.wav", kind="audio").noise_rms - 0.01) < 0.002
    est = estimate(tmp_path / "a.csv", kind="table")
    assert est.missing[1] == 0.25


def test_noise_module_wrapper_is_lazy():
    arr = np.random.default_rng(0).normal(100, 10, (64, 64))
    assert daekit.noise.estimate(arr) == estimate(arr)
    code = (
        "import sys, daekit.noise; print('daekit.noise_estimate' in sys.modules, 'daekit.noise_select' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_cli_estimate(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(np.full((64, 64), 100, np.uint8)).save(tmp_path / "flat.png")
    rng = np.random.default_rng(0)
    noisy = np.clip(textured_image() + 8 * rng.standard_normal((192, 192)), 0, 255).round().astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    assert main(["noise", "estimate", str(tmp_path / "flat.png"), str(tmp_path / "noisy.png")]) == 0
    out = capsys.readouterr().out
    assert NO_NOISE in out and re.search(r"noisy.png: white noise, RMS σ = (7|8)\.", out)
    # Correlated noise (a 2x2 box blur of white noise) is named as such, in text and JSON.
    white = 20 * rng.standard_normal((257, 257))
    blurred = (white[1:, 1:] + white[:-1, 1:] + white[1:, :-1] + white[:-1, :-1]) / 4
    Image.fromarray(np.clip(128 + blurred, 0, 255).round().astype(np.uint8)).save(tmp_path / "camera.png")
    assert main(["noise", "estimate", str(tmp_path / "camera.png")]) == 0
    assert "camera.png: spatially correlated (camera-like) noise, RMS σ = " in capsys.readouterr().out
    assert main(["noise", "estimate", "--json", str(tmp_path / "camera.png")]) == 0
    assert json.loads(capsys.readouterr().out)["correlated"] is True
    assert main(["noise", "estimate", str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err
    (tmp_path / "x.xyz").write_text("hi")
    assert main(["noise", "estimate", str(tmp_path / "x.xyz"), str(tmp_path / "noisy.png")]) == 1
    assert "accepted" in capsys.readouterr().err
