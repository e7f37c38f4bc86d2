"""daekit.data.audio: reading, writing, resampling, blocks, speech and noise sets."""

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from daekit.data.audio import (  # noqa: E402  (after importorskip: the module needs soundfile)
    AudioWriter,
    PairedAudioFolder,
    fsdd_files,
    fsdd_test_items,
    iter_audio_blocks,
    join_clips,
    list_audio_files,
    load_audio,
    load_noise_bank,
    resample,
    save_audio,
    speech_items,
)


def tone(sr=8000, seconds=0.5, f=300.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_save_then_load_round_trip(tmp_path, suffix):
    x = tone()
    path = save_audio(tmp_path / f"a{suffix}", x, 8000)
    y, sr = load_audio(path)
    assert sr == 8000 and y.dtype == np.float32
    if suffix == ".ogg":  # lossy: same length, similar signal
        assert abs(y.size - x.size) < 1000
        n = min(x.size, y.size)
        assert np.corrcoef(x[:n], y[:n])[0, 1] > 0.9
    else:
        np.testing.assert_allclose(y, x, atol=1e-4)


def test_stereo_keeps_channels_or_mixes_down(tmp_path):
    x = np.stack([tone(), -0.5 * tone()])
    save_audio(tmp_path / "s.wav", x, 8000)
    both, _ = load_audio(tmp_path / "s.wav", mono=False)
    mono, _ = load_audio(tmp_path / "s.wav")
    assert both.shape == (2, x.shape[1]) and mono.shape == (x.shape[1],)
    np.testing.assert_allclose(mono, x.mean(0), atol=1e-4)


def test_resample_changes_length_and_keeps_the_tone():
    x = tone(sr=16000, seconds=1.0, f=440.0)
    y = resample(x, 16000, 8000)
    assert y.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins for 1 s at 8 kHz
    assert resample(x, 16000, 16000) is not None


def test_load_resamples(tmp_path):
    save_audio(tmp_path / "a.wav", tone(sr=44100, seconds=0.2), 44100)
    y, sr = load_audio(tmp_path / "a.wav", sample_rate=8000)
    assert sr == 8000 and abs(y.size - 1600) <= 1


def test_bad_files_give_one_sentence(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(ValueError, match="bad.wav"):
        load_audio(tmp_path / "bad.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(ValueError, match="no samples"):
        load_audio(tmp_path / "empty.wav")
    with pytest.raises(FileNotFoundError):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "a.mp4").write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported audio format"):
        load_audio(tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="finite"):
        save_audio(tmp_path / "nan.wav", np.array([np.nan], np.float32), 8000)


def test_blocks_cover_the_file_and_writer_is_atomic(tmp_path):
    x = np.stack([tone(seconds=1.0), tone(seconds=1.0, f=500)])
    save_audio(tmp_path / "a.flac", x, 8000)
    blocks = list(iter_audio_blocks(tmp_path / "a.flac", 3000))
    assert [b.shape[1] for b in blocks] == [3000, 3000, 2000]
    whole, _ = load_audio(tmp_path / "a.flac", mono=False)
    np.testing.assert_array_equal(np.concatenate(blocks, 1), whole)
    with AudioWriter(tmp_path / "out.wav", 8000, channels=2) as w:
        for b in blocks:
            w.write(b)
    np.testing.assert_allclose(load_audio(tmp_path / "out.wav", mono=False)[0], whole, atol=1e-4)
    with pytest.raises(RuntimeError):
        with AudioWriter(tmp_path / "never.wav", 8000) as w:
            w.write(tone())
            raise RuntimeError("crash")
    assert not (tmp_path / "never.wav").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def fake_fsdd(folder, speakers=("ann", "bob"), takes=8):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for s in speakers:
        for d in range(2):
            for k in range(takes):
                save_audio(folder / f"{d}_{s}_{k}.wav", 0.3 * rng.standard_normal(800).astype(np.float32), 8000)
    return folder


def test_fsdd_split_and_test_items(tmp_path):
    folder = fake_fsdd(tmp_path / "fsdd")
    train, test = fsdd_files(folder, "train"), fsdd_files(folder, "test")
    assert sorted(train) == ["ann", "bob"]
    assert all(int(p.stem.split("_")[2]) < 5 for ps in test.values() for p in ps)
    assert all(int(p.stem.split("_")[2]) >= 5 for ps in train.values() for p in ps)
    items = fsdd_test_items(folder, n_items=3, clips_per_item=4, seed=0)
    # 4 clips of 800 + 3 gaps of 0.15 s + 2 * 0.3 s
    assert [i.size for i in items] == [4 * 800 + 3 * 1200 + 2 * 2400] * 3
    assert np.all(items[0][:2400] == 0)
    again = fsdd_test_items(folder, n_items=3, clips_per_item=4, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(items, again))


def test_speech_items_and_noise_bank(tmp_path):
    clips = {"a": [tone(), tone(f=200)], "b": [tone(f=900)]}
    items = speech_items(clips, 5, 4000, 8000, seed=0)
    assert items.shape == (5, 1, 4000) and items.dtype == np.float32
    assert (np.abs(items).max(axis=(1, 2)) > 0).all()
    save_audio(tmp_path / "n.wav", np.linspace(-0.5, 0.5, 1000, dtype=np.float32), 16000)
    bank = load_noise_bank([tmp_path / "n.wav"], 8000, span=(0.0, 0.7))
    assert bank[0].size == 350
    with pytest.raises(ValueError):
        load_noise_bank([tmp_path / "n.wav"], 8000, span=(0.7, 0.2))
    assert join_clips([np.ones(3)], 10, gap_s=0.1, edge_s=0.2).tolist() == [0, 0, 1, 1, 1, 0, 0]


def test_paired_folders(tmp_path):
    (tmp_path / "clean").mkdir(), (tmp_path / "noisy").mkdir()
    for name in ("a.wav", "b.wav"):
        save_audio(tmp_path / "clean" / name, tone(seconds=0.3), 8000)
        save_audio(tmp_path / "noisy" / name, tone(seconds=0.3) + 0.01, 8000)
    save_audio(tmp_path / "noisy" / "only_noisy.wav", tone(), 8000)
    ds = PairedAudioFolder(tmp_path / "clean", tmp_path / "noisy", sample_rate=8000, segment=1000)
    assert len(ds.pairs_) == 2 and len(ds) == 6
    clean, noisy = ds[0]
    assert clean.shape == noisy.shape == (1, 1000)
    assert len(list_audio_files(tmp_path)) == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="both"):
        PairedAudioFolder(tmp_path / "clean", tmp_path / "empty")
