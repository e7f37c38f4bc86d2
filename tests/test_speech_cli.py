"""``daekit audio denoise / train / stream``: exit codes, messages, outputs."""

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")
pytest.importorskip("scipy")

import daekit as dk
from daekit.apps.speech import SpeechEnhancer
from daekit.cli import main
from daekit.data.audio import load_audio, save_audio


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    dae = dk.DenoisingAutoencoder(
        dk.create_model("speech_mask", hidden_size=8, num_layers=1), preprocessing={"sample_rate": 8000}
    )
    return str(SpeechEnhancer(dae).save_pretrained(tmp_path_factory.mktemp("m") / "model"))


def noisy(seconds=0.5, sr=16000, channels=1):
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((channels, int(seconds * sr)))).astype(np.float32).squeeze()


def test_denoise_files_and_report_bad_ones(tmp_path, model_dir, capsys):
    save_audio(tmp_path / "a.wav", noisy(channels=2), 16000)
    save_audio(tmp_path / "b.flac", noisy(sr=8000), 8000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    rc = main(
        [
            "audio",
            "denoise",
            str(tmp_path / "a.wav"),
            str(tmp_path / "b.flac"),
            str(tmp_path / "bad.wav"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            model_dir,
            "--attenuation-limit",
            "20",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "bad.wav" in err and "Traceback" not in err
    y, sr = load_audio(tmp_path / "out" / "a.wav", mono=False)
    assert sr == 16000 and y.shape == (2, 8000)
    assert (tmp_path / "out" / "b.flac").is_file() and not (tmp_path / "out" / "bad.wav").exists()


def test_denoise_to_one_file_and_user_errors(tmp_path, model_dir, capsys):
    save_audio(tmp_path / "a.ogg", noisy(), 16000)
    assert (
        main(
            [
                "audio",
                "denoise",
                str(tmp_path / "a.ogg"),
                "-o",
                str(tmp_path / "clean.wav"),
                "--model",
                model_dir,
                "--wet",
                "0.5",
                "--quiet",
            ]
        )
        == 0
    )
    assert load_audio(tmp_path / "clean.wav")[1] == 16000
    assert main(["audio", "denoise", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "x")]) == 2
    assert (
        main(
            [
                "audio",
                "denoise",
                str(tmp_path / "a.ogg"),
                "-o",
                str(tmp_path / "x"),
                "--model",
                str(tmp_path / "no_model"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("daekit: error:") == 2 and "Traceback" not in err


def test_stream_reports_latency_and_speed(tmp_path, model_dir, capsys):
    save_audio(tmp_path / "a.wav", noisy(seconds=1.0), 16000)
    rc = main(
        [
            "audio",
            "stream",
            str(tmp_path / "a.wav"),
            "-o",
            str(tmp_path / "s.wav"),
            "--chunk-ms",
            "20",
            "--model",
            model_dir,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "latency" in out and "real-time factor" in out and "per chunk" in out
    y, _ = load_audio(tmp_path / "s.wav")
    assert y.size == 16000
    offline = SpeechEnhancer.from_pretrained(model_dir)(load_audio(tmp_path / "a.wav")[0], sample_rate=16000)
    assert np.abs(y - offline)[800:-800].max() < 2e-3 + 0.02 * np.abs(offline).max()


def test_train_writes_a_usable_model(tmp_path, capsys):
    (tmp_path / "clean").mkdir(), (tmp_path / "noise").mkdir()
    t = np.arange(4000) / 8000
    for i in range(3):
        save_audio(
            tmp_path / "clean" / f"{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32), 8000
        )
    save_audio(tmp_path / "noise" / "n.wav", noisy(seconds=1.0), 16000)
    rc = main(
        [
            "audio",
            "train",
            "--clean",
            str(tmp_path / "clean"),
            "--noise",
            str(tmp_path / "noise"),
            "--noise-span",
            "0",
            "0.7",
            "--out",
            str(tmp_path / "run"),
            "--items",
            "8",
            "--seconds",
            "0.5",
            "--hidden",
            "8",
            "--layers",
            "1",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--quiet",
        ]
    )
    assert rc == 0
    enh = SpeechEnhancer.from_pretrained(tmp_path / "run")
    assert enh(np.zeros(100, np.float32)).shape == (100,)
    assert (
        main(
            [
                "audio",
                "train",
                "--clean",
                str(tmp_path / "noise" / "n.wav"),
                "--synthetic",
                "violet",
                "--out",
                str(tmp_path / "r2"),
                "--steps",
                "1",
            ]
        )
        == 2
    )
    assert "violet" in capsys.readouterr().err


def test_denoise_prints_the_noise_estimate_and_leaves_clean_audio_alone(tmp_path, model_dir, capsys):
    t = np.arange(8000) / 8000
    save_audio(tmp_path / "clean.wav", (0.5 * np.sin(2 * np.pi * 300 * t) * (t > 0.5)).astype(np.float32), 8000)
    save_audio(tmp_path / "noisy.wav", noisy(seconds=1.0, sr=8000) * (0.2 + (t > 0.5)), 8000)
    assert (
        main(
            [
                "audio",
                "denoise",
                str(tmp_path / "clean.wav"),
                str(tmp_path / "noisy.wav"),
                "-o",
                str(tmp_path / "out"),
                "--model",
                model_dir,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "clean.wav: noise floor" in out and "left unchanged" in out  # 16-bit WAV: SNR ~90 dB
    noisy_line = next(line for line in out.splitlines() if line.startswith(str(tmp_path / "noisy.wav") + ":"))
    assert "SNR" in noisy_line and "left unchanged" not in noisy_line
    clean, _ = load_audio(tmp_path / "clean.wav")
    copied, _ = load_audio(tmp_path / "out" / "clean.wav")
    assert np.array_equal(clean, copied)
    assert (
        main(
            [
                "audio",
                "denoise",
                str(tmp_path / "clean.wav"),
                "-o",
                str(tmp_path / "forced.wav"),
                "--model",
                model_dir,
                "--always-enhance",
            ]
        )
        == 0
    )
    assert "left unchanged" not in capsys.readouterr().out


def test_train_bidirectional_makes_an_offline_model_that_refuses_to_stream(tmp_path, capsys):
    save_audio(tmp_path / "c.wav", (0.3 * np.sin(np.arange(4000) / 5.0)).astype(np.float32), 8000)
    assert (
        main(
            [
                "audio",
                "train",
                "--clean",
                str(tmp_path / "c.wav"),
                "--out",
                str(tmp_path / "run"),
                "--items",
                "8",
                "--seconds",
                "0.5",
                "--hidden",
                "8",
                "--layers",
                "1",
                "--steps",
                "1",
                "--batch-size",
                "4",
                "--bidirectional",
                "--quiet",
            ]
        )
        == 0
    )
    assert not SpeechEnhancer.from_pretrained(tmp_path / "run").causal
    save_audio(tmp_path / "a.wav", noisy(), 16000)
    assert (
        main(
            [
                "audio",
                "denoise",
                str(tmp_path / "a.wav"),
                "-o",
                str(tmp_path / "d.wav"),
                "--model",
                str(tmp_path / "run"),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    rc = main(
        ["audio", "stream", str(tmp_path / "a.wav"), "-o", str(tmp_path / "s.wav"), "--model", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "cannot stream" in err and "Traceback" not in err
    assert not (tmp_path / "s.wav").exists()
