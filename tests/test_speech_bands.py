"""The band above a speech model's rate is kept: split, gains, streaming, every shipped model."""

import numpy as np
import pytest
import torch

import daekit as dk
from daekit.apps.speech import SpeechEnhancer
from daekit.apps.speech_bands import BandKeeper, band_edges
from daekit.models.speech import SpectralMaskNet

pytest.importorskip("scipy")

SR = 48000


def linear_chirp(seconds=1.5, sr=SR, f0=100.0, f1=20000.0, amp=0.3):
    """A sweep whose long-term spectrum is flat from f0 to f1 (a clean, flat-spectrum input)."""
    from scipy.signal import chirp

    t = np.arange(int(seconds * sr)) / sr
    return (amp * chirp(t, f0, t[-1], f1, method="linear")).astype(np.float32)


def band_db(y, x, lo, hi, sr=SR):
    """Energy of y over energy of x between lo and hi Hz, dB."""
    f = np.fft.rfftfreq(x.size, 1 / sr)
    sel = (f >= lo) & (f < hi)
    return 10 * np.log10(np.sum(np.abs(np.fft.rfft(y)[sel]) ** 2) / np.sum(np.abs(np.fft.rfft(x)[sel]) ** 2))


def chunks(x, rng, hi=2000):
    i = 0
    while i < x.shape[-1]:
        k = int(rng.integers(1, hi))
        yield x[..., i : i + k]
        i += k


@pytest.fixture(scope="module")
def bundled():
    names = SpeechEnhancer.bundled()
    if not names:
        pytest.skip("no speech weights shipped in this checkout")
    return {name: SpeechEnhancer.pretrained(name, clean_snr_db=None) for name in names}


def constant_mask_model(gain_logit: float, causal: bool = True) -> SpeechEnhancer:
    """A model whose mask is sigmoid(gain_logit) in every bin: 1 (a pass-through) or 0.5."""
    net = SpectralMaskNet(hidden_size=8, num_layers=1, causal=causal)
    with torch.no_grad():
        net.out[2].weight.zero_()
        net.out[2].bias.fill_(gain_logit)
    dae = dk.DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})
    return SpeechEnhancer(dae, clean_snr_db=None)


# ---------------------------------------------------------------------------- the split


def test_band_edges_are_half_octaves_up_to_the_input_nyquist():
    assert band_edges(16000, 8000) == pytest.approx([4000, 4000 * 2**0.5, 8000])
    edges = band_edges(48000, 8000)
    assert edges[0] == 4000 and edges[-1] == 24000 and len(edges) == 6  # 22.6-24 kHz joins the band below
    assert band_edges(44100, 8000)[-1] == 22050
    assert band_edges(8000, 8000) == []
    with pytest.raises(ValueError, match="no band"):
        BandKeeper(8000, 8000)


def test_split_is_exact_and_independent_of_chunking():
    from daekit.data.audio import resample

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 12000))
    lo = resample(resample(x, SR, 8000), 8000, SR)[:, : x.shape[1]].astype(np.float64)

    def run(keeper, sizes, lag=0):
        out, i = [], 0
        for k in sizes:  # the low band and the model output may come later than the input
            out.append(keeper.push(x=x[:, i : i + k]))
            j = max(0, i - lag)
            out.append(keeper.push(lo=lo[:, j : max(j, i + k - lag)], y=lo[:, j : max(j, i + k - lag)]))
            i += k
        rest = max(0, x.shape[1] - lag)
        out.append(keeper.push(lo=lo[:, rest:], y=lo[:, rest:]))
        out.append(keeper.flush(x.shape[1]))
        return np.concatenate(out, axis=1)

    # every gain 1 (no floor below 0 dB; the model changed nothing): the output is the input
    z = run(BandKeeper(SR, 8000, 2, floor_db=0.0), [x.shape[1]])
    np.testing.assert_allclose(z, x, atol=1e-9)
    one = run(BandKeeper(SR, 8000, 2), [x.shape[1]])
    many = run(BandKeeper(SR, 8000, 2), [k.shape[1] for k in chunks(x, rng, 900)], lag=1700)
    assert one.shape == many.shape == x.shape
    np.testing.assert_allclose(many, one, atol=1e-9)


# ---------------------------------------------------------------------------- shipped models


def test_clean_chirp_keeps_its_band(bundled):
    x = linear_chirp()
    for name, enh in bundled.items():
        y = enh(x, sample_rate=SR)
        assert abs(band_db(y, x, 8000, 24000)) < 1.0, name
        nyquist = enh.sample_rate / 2
        assert abs(band_db(y, x, nyquist, 24000)) < 1.0, name  # everything above the model's band is kept
        off = SpeechEnhancer(enh.dae, clean_snr_db=None, keep_band=False)(x, sample_rate=SR)
        assert band_db(off, x, nyquist + 500, 24000) < -20, name  # without it: only the model's band


def test_noise_above_the_model_band_goes_down(bundled):
    noise = (0.05 * np.random.default_rng(1).standard_normal(2 * SR)).astype(np.float32)
    for name, enh in bundled.items():
        y = enh(noise, sample_rate=SR)
        assert band_db(y, noise, 8000, 24000) <= -6.0, name
        assert band_db(y, noise, 4000, 24000) <= -6.0, name
        limited = SpeechEnhancer(enh.dae, clean_snr_db=None, attenuation_limit_db=3.0)(noise, sample_rate=SR)
        assert band_db(limited, noise, 8000, 24000) >= -3.5, name  # the attenuation limit bounds the band too


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_every_shipped_model_runs_at_every_rate(bundled, rate):
    rng = np.random.default_rng(2)
    t = np.arange(rate // 2) / rate
    x = (0.2 * np.sin(2 * np.pi * 300 * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    for name, enh in bundled.items():
        y = enh(x, sample_rate=rate)
        assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all(), name
        stereo = enh(np.stack([x, x[::-1]]), sample_rate=rate)
        assert stereo.shape == (2, x.size), name
        np.testing.assert_allclose(stereo[0], y, atol=1e-5)  # channels are independent


def test_files_keep_their_rate_and_band(bundled, tmp_path):
    from daekit.data.audio import audio_info, load_audio, save_audio

    enh = next(iter(bundled.values()))
    x = linear_chirp(seconds=1.0)
    save_audio(tmp_path / "in.wav", x, SR, subtype="FLOAT")
    enh.enhance_file(tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.3)
    assert audio_info(tmp_path / "out.wav")[0] == SR
    y, _ = load_audio(tmp_path / "out.wav")
    assert y.shape == x.shape
    np.testing.assert_allclose(y, enh(x, sample_rate=SR), atol=1e-4)  # files run the same path (16-bit out)
    assert abs(band_db(y, x, 8000, 24000)) < 1.0


@pytest.mark.parametrize("name", ["speech8k", "speech16k"])
@pytest.mark.parametrize("rate", [16000, 48000])
def test_stream_equals_offline_for_the_causal_model(name, rate):
    try:
        enh = SpeechEnhancer.pretrained(name, clean_snr_db=None)
    except dk.ModelFileError:
        pytest.skip(f"{name} weights not shipped in this checkout")
    rng = np.random.default_rng(3)
    t = np.arange(rate) / rate
    gate = np.sin(2 * np.pi * 3 * t) > 0
    clean = 0.3 * np.sin(2 * np.pi * 250 * t) * gate + 0.1 * linear_chirp(1.0, rate, 3000, 0.45 * rate) * gate
    x = np.stack([clean + 0.03 * rng.standard_normal(t.size), 0.5 * clean]).astype(np.float32)
    offline = enh(x, sample_rate=rate)
    s = enh.stream(sample_rate=rate, channels=2)
    if rate > enh.sample_rate:  # the band above the model's is kept, with no latency added
        assert s.band is not None and s.band_latency_ms == 0.0
    else:
        assert s.band is None
    assert s.latency_ms == enh.stream(sample_rate=rate).latency_ms <= 40.0
    wait = int(np.ceil(s.latency_ms * rate / 1000))
    fed, got, outs = 0, 0, []
    for c in chunks(x, rng):
        out = s.process(c)
        fed, got = fed + c.shape[1], got + out.shape[1]
        assert got >= fed - wait  # no sample waits longer than the stated latency
        outs.append(out)
    y = np.concatenate(outs + [s.flush()], axis=1)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, offline, atol=1e-5)
    if rate > enh.sample_rate:  # the clean channel keeps the band above the model's
        assert abs(band_db(y[1], x[1], enh.sample_rate / 2, rate / 2, rate)) < 1.5


# ---------------------------------------------------------------------------- the band edge


@pytest.mark.parametrize("rate", [16000, 48000])
def test_no_hole_or_bump_at_the_model_nyquist(rate):
    # A model that passes everything: a clean flat-spectrum input comes out flat across the
    # model's Nyquist (4 kHz), the band around it level with its neighbours.
    x = linear_chirp(3.0, rate, 100.0, 0.45 * rate)
    y = constant_mask_model(10.0)(x, sample_rate=rate)
    edge = band_db(y, x, 3800, 4200, rate)
    below, above = band_db(y, x, 3000, 3400, rate), band_db(y, x, 4600, 5000, rate)
    assert abs(edge - below) < 1.5 and abs(edge - above) < 1.5 and abs(edge) < 1.0


@pytest.mark.parametrize("rate", [16000, 48000])
def test_the_gain_crosses_the_edge_smoothly_from_the_model_to_the_band(rate):
    # A model that halves every bin while the band above is clean: the level goes from the
    # model's -6 dB to the band's 0 dB monotonically over the first band, without a dip or a peak.
    x = linear_chirp(3.0, rate, 100.0, 0.45 * rate)
    y = constant_mask_model(0.0)(x, sample_rate=rate)
    scan = np.array([band_db(y, x, f, f + 200, rate) for f in range(3000, 6000, 200)])
    assert abs(scan[0] + 6.02) < 0.3 and abs(scan[-1]) < 0.5
    assert np.all(np.diff(scan) > -0.2)
    assert np.max(np.diff(scan)) < 2.5  # spread over several 200 Hz steps, not one


# ---------------------------------------------------------------------------- settings


def test_keep_band_can_be_turned_off_and_is_saved(tmp_path):
    enh = constant_mask_model(10.0)
    x = (0.1 * np.random.default_rng(4).standard_normal(SR // 2)).astype(np.float32)
    off = SpeechEnhancer(enh.dae, clean_snr_db=None, keep_band=False)
    assert off.stream(sample_rate=SR).band is None
    assert enh.stream(sample_rate=8000).band is None  # at the model's rate there is nothing to keep
    assert band_db(off(x, SR), x, 4500, 24000) < -20
    folder = SpeechEnhancer(enh.dae, keep_band=False, band_limit_db=12.0).save_pretrained(tmp_path / "m")
    loaded = SpeechEnhancer.from_pretrained(folder)
    assert loaded.keep_band is False and loaded.band_limit_db == 12.0
    assert SpeechEnhancer.from_pretrained(folder, keep_band=True).keep_band
    with pytest.raises(ValueError, match="band_limit_db"):
        SpeechEnhancer(enh.dae, band_limit_db=-1.0)
    with pytest.raises(ValueError, match="keep_band"):
        SpeechEnhancer(enh.dae, keep_band="yes")
