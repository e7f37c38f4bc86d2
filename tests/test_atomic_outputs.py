"""Every writer: atomic, one sentence for an output path it cannot use, stale temporary files
cleaned up, and model output checked finite before it is written (issue 18)."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import daekit as dk
from daekit.cli import main
from daekit.data.arrays import save_array
from daekit.io import (
    STALE_TEMP_AGE_S,
    AtomicOutput,
    NonFiniteOutputError,
    OutputError,
    atomic_write_bytes,
    check_finite_output,
)

KEEP = b"an earlier result that a failed run must leave byte for byte\n"
EPOCH = ["--epochs", "1", "--quiet"]
QUICK_SELECT = ["--task", "anomaly", "--budget", "5s", "--steps", "1", "--trials", "1", "--quiet"]


def has(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


def needs(*modules):
    return pytest.mark.skipif(not has(*modules), reason=f"needs {', '.join(modules)}")


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def temp_files(folder):
    return sorted(p.name for p in folder.rglob(".*.tmp"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Tiny models and data for every writer command (the commands fail before using most of them)."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    table = rng.normal(size=(60, 6)).astype(np.float32)
    np.save(root / "table.npy", table)
    np.save(root / "labels.npy", np.arange(60) % 3)
    (root / "table.csv").write_text("a,b,c,d,e,f\n" + "".join(",".join(f"{v:.4f}" for v in r) + "\n" for r in table))
    series = np.sin(np.arange(200) / 5.0) + 0.05 * rng.normal(size=200)
    (root / "series.csv").write_text("value\n" + "".join(f"{v:.5f}\n" for v in series))
    torch.manual_seed(0)
    paths = {"table_npy": root / "table.npy", "table_csv": root / "table.csv"}
    paths |= {"labels": root / "labels.npy", "series_csv": root / "series.csv"}
    paths["mlp"] = dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=6, hidden_sizes=[3])).save_pretrained(
        root / "mlp"
    )
    assert main(["anomaly", "fit", str(root / "table.csv"), "--out", str(root / "det"), "--members", "1"] + EPOCH) == 0
    paths["detector"] = root / "det"
    if has("PIL"):
        from daekit.apps.image import ImageDenoiser, synthetic_image
        from daekit.data.image import write_image

        (root / "images").mkdir()
        for name, seed in (("a.png", 0), ("b.png", 1)):
            write_image(root / "images" / name, synthetic_image(48, seed=seed))
        paths |= {"png": root / "images" / "a.png", "png2": root / "images" / "b.png", "images": root / "images"}
        model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1)
        paths["image_model"] = ImageDenoiser(model).save_pretrained(root / "image_model")
    if has("soundfile", "scipy"):
        from daekit.apps.speech import SpeechEnhancer
        from daekit.data.audio import save_audio

        for name in ("a.wav", "b.wav"):
            save_audio(root / name, 0.1 * rng.standard_normal(4000).astype(np.float32), 8000)
        paths |= {"wav": root / "a.wav", "wav2": root / "b.wav"}
        dae = dk.DenoisingAutoencoder(
            dk.create_model("speech_mask", hidden_size=8, num_layers=1), preprocessing={"sample_rate": 8000}
        )
        paths["speech_model"] = SpeechEnhancer(dae).save_pretrained(root / "speech_model")
    if has("sklearn"):
        from daekit.apps.features import DAEFeatureExtractor

        fx = DAEFeatureExtractor(hidden_sizes=(4,), epochs=1, num_threads=1, random_state=0).fit(table)
        paths["extractor"] = fx.save(root / "extractor")
    return {k: str(v) for k, v in paths.items()}


# (command, argv with {out}, suffix of the file it writes, modules it needs, whether a folder
# given as {out} is a valid place to write into)
FILE_WRITERS = [
    ("denoise", ["denoise", "{mlp}", "{table_npy}", "-o", "{out}"], ".npy", (), False),
    ("export", ["export", "{mlp}", "--onnx", "{out}", "--no-check"], ".onnx", ("onnx",), False),
    (
        "image denoise",
        ["image", "denoise", "{png}", "-o", "{out}", "--model", "{image_model}", "--sigma", "10", "--quiet"],
        ".png",
        ("PIL",),
        True,
    ),
    (
        "image add-noise",
        ["image", "add-noise", "{png}", "-o", "{out}", "--sigma", "5", "--quiet"],
        ".png",
        ("PIL",),
        True,
    ),
    ("image compare", ["image", "compare", "{png}", "{png2}", "-o", "{out}"], ".png", ("PIL",), False),
    (
        "audio denoise",
        ["audio", "denoise", "{wav}", "-o", "{out}", "--model", "{speech_model}", "--always-enhance", "--quiet"],
        ".wav",
        ("soundfile", "scipy"),
        True,
    ),
    (
        "audio stream",
        ["audio", "stream", "{wav}", "-o", "{out}", "--model", "{speech_model}", "--quiet"],
        ".wav",
        ("soundfile", "scipy"),
        False,
    ),
    ("anomaly score", ["anomaly", "score", "{detector}", "{table_csv}", "-o", "{out}", "--quiet"], ".csv", (), False),
    (
        "anomaly score --plot",
        ["anomaly", "score", "{detector}", "{table_csv}", "-o", "{spare}", "--plot", "{out}", "--quiet"],
        ".png",
        ("matplotlib",),
        False,
    ),
    ("anomaly stream", ["anomaly", "stream", "{series_csv}", "-o", "{out}", "--quiet"], ".csv", (), False),
    (
        "anomaly stream --plot",
        ["anomaly", "stream", "{series_csv}", "-o", "{spare}", "--plot", "{out}", "--quiet"],
        ".png",
        ("matplotlib",),
        False,
    ),
    (
        "features transform",
        ["features", "transform", "{extractor}", "{table_npy}", "-o", "{out}"],
        ".npy",
        ("sklearn",),
        False,
    ),
    (
        "features filters",
        ["features", "filters", "{extractor}", "-o", "{out}"],
        ".png",
        ("sklearn", "matplotlib"),
        False,
    ),
    (
        "features map",
        ["features", "map", "{extractor}", "{table_npy}", "--labels", "{labels}", "-o", "{out}"],
        ".png",
        ("sklearn", "matplotlib"),
        False,
    ),
    (
        "noise select --plot",
        ["noise", "select", "{table_npy}", *QUICK_SELECT, "--plot", "{out}"],
        ".png",
        ("matplotlib",),
        False,
    ),
    ("noise select --json", ["noise", "select", "{table_npy}", *QUICK_SELECT, "--json", "{out}"], ".json", (), False),
]

FOLDER_WRITERS = [
    ("train", ["train", "{table_npy}", "--out", "{out}", "--hidden", "3", "--steps", "1", "--quiet"], ()),
    (
        "image train",
        ["image", "train", "{images}", "--out", "{out}", "--patch", "16", "--tile", "32", "--steps", "1", "--quiet"],
        ("PIL",),
    ),
    (
        "audio train",
        ["audio", "train", "--clean", "{wav}", "--out", "{out}", "--items", "4", "--seconds", "0.25"]
        + ["--hidden", "8", "--layers", "1", "--steps", "1", "--quiet"],
        ("soundfile", "scipy"),
    ),
    ("anomaly fit", ["anomaly", "fit", "{table_csv}", "--out", "{out}", "--members", "1", *EPOCH], ()),
    ("features fit", ["features", "fit", "{table_npy}", "--out", "{out}", "--hidden", "4", *EPOCH], ("sklearn",)),
    ("demo", ["demo", "--out", "{out}", "--steps", "1", "--quiet"], ("sklearn",)),
    ("image demo", ["image", "demo", "--out", "{out}"], ("PIL",)),
    (
        "image denoise into a folder",
        ["image", "denoise", "{png}", "{png2}", "-o", "{out}", "--model", "{image_model}", "--sigma", "10", "--quiet"],
        ("PIL",),
    ),
    (
        "image add-noise into a folder",
        ["image", "add-noise", "{images}", "-o", "{out}", "--sigma", "5", "--quiet"],
        ("PIL",),
    ),
    (
        "audio denoise into a folder",
        ["audio", "denoise", "{wav}", "{wav2}", "-o", "{out}", "--model", "{speech_model}", "--quiet"],
        ("soundfile", "scipy"),
    ),
]


def file_writers(folder_ok=None):
    return [
        pytest.param(argv, suffix, id=name, marks=needs(*mods))
        for name, argv, suffix, mods, accepts_folder in FILE_WRITERS
        if folder_ok is None or accepts_folder == folder_ok
    ]


def folder_writers():
    return [pytest.param(argv, id=name, marks=needs(*mods)) for name, argv, mods in FOLDER_WRITERS]


def refused(argv, out, inputs, tmp_path, capsys):
    """Run the command with ``out``; assert exit 2 and one sentence; return the sentence."""
    spare = tmp_path / "spare" / "scores.csv"
    code, err = run([a.format(out=out, spare=spare, **inputs) for a in argv], capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("daekit: error: "), err
    assert "Traceback" not in err and ".tmp" not in err and "Errno" not in err
    assert not spare.exists()  # a bad --plot is refused before the scores are written, too
    assert temp_files(tmp_path) == []
    return lines[0]


@pytest.mark.parametrize("argv,suffix", file_writers())
def test_a_file_output_under_a_file_is_one_sentence(argv, suffix, inputs, tmp_path, capsys):
    blocker = tmp_path / "runs"
    blocker.write_bytes(KEEP)
    out = blocker / "x" / f"result{suffix}"
    sentence = refused(argv, out, inputs, tmp_path, capsys)
    assert f"{out}: {blocker} is a file, not a folder." in sentence
    assert blocker.read_bytes() == KEEP


@pytest.mark.parametrize("argv,suffix", file_writers(folder_ok=False))
def test_a_file_output_that_is_a_folder_is_one_sentence(argv, suffix, inputs, tmp_path, capsys):
    out = tmp_path / f"result{suffix}"
    out.mkdir()
    (out / "inside.txt").write_bytes(KEEP)
    sentence = refused(argv, out, inputs, tmp_path, capsys)
    assert f"{out} is a folder, not a file" in sentence
    assert (out / "inside.txt").read_bytes() == KEEP and sorted(os.listdir(out)) == ["inside.txt"]


@pytest.mark.parametrize("argv", folder_writers())
def test_a_folder_output_under_a_file_is_one_sentence(argv, inputs, tmp_path, capsys):
    blocker = tmp_path / "runs"
    blocker.write_bytes(KEEP)
    out = blocker / "x" / "model"
    sentence = refused(argv, out, inputs, tmp_path, capsys)
    assert f"{out}: {blocker} is a file, not a folder." in sentence
    assert blocker.read_bytes() == KEEP


@pytest.mark.parametrize("argv", folder_writers())
def test_a_folder_output_that_is_a_file_is_one_sentence(argv, inputs, tmp_path, capsys):
    out = tmp_path / "model"
    out.write_bytes(KEEP)
    sentence = refused(argv, out, inputs, tmp_path, capsys)
    assert f"{out} is a file, not a folder" in sentence
    assert out.read_bytes() == KEEP


# -- the helpers themselves ---------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.npy"
    target.write_bytes(KEEP)
    with pytest.raises(RuntimeError, match="half way"), AtomicOutput(target) as out:
        out.tmp.write_bytes(b"half")
        raise RuntimeError("half way")
    assert target.read_bytes() == KEEP and temp_files(tmp_path) == []
    with pytest.raises(OutputError) as e, AtomicOutput(target) as out:
        raise OSError(28, "No space left on device", str(out.tmp))
    assert str(e.value) == f"{target} cannot be written (no space left on device)."
    assert target.read_bytes() == KEEP and temp_files(tmp_path) == []
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and temp_files(tmp_path) == []


def test_new_files_get_the_permissions_of_a_plain_open(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    with open(tmp_path / "b.bin", "wb") as fh:
        fh.write(b"x")
    assert (tmp_path / "a.bin").stat().st_mode == (tmp_path / "b.bin").stat().st_mode


def test_a_temp_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(KEEP)
    script = (
        "import os, signal, sys\n"
        "from daekit.io import AtomicOutput\n"
        "out = AtomicOutput(sys.argv[1])\n"
        "out.tmp.write_bytes(b'half a file')\n"
        "print(out.tmp, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = proc.stdout.strip()
    assert os.path.exists(left) and target.read_bytes() == KEEP  # the kill left the old file intact
    atomic_write_bytes(target, b"new")
    assert not os.path.exists(left) and target.read_bytes() == b"new"
    assert temp_files(tmp_path) == []


def test_temp_files_of_live_or_unknown_writers_are_kept_until_old(tmp_path):
    probe = AtomicOutput(tmp_path / "elsewhere" / "probe")  # how this process names its temp files
    me = probe.tmp.name.split(".")[2]  # "PID@HOST"
    probe.discard()
    host = me.split("@")[1]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    older = time.time() - STALE_TEMP_AGE_S - 60
    try:
        planted = {
            "mine": f".out.csv.{me}.abcd1234.tmp",  # this process may still be writing it
            "running": f".out.csv.{sleeper.pid}@{host}.abcd1234.tmp",
            "dead": f".out.csv.{dead.stdout.strip()}@{host}.abcd1234.tmp",
            "other host": ".out.csv.123@elsewhere.abcd1234.tmp",
            "old, other host": ".out.csv.456@elsewhere.abcd1234.tmp",
            "old, older daekit": ".out.csv.abcd1234.tmp",
            "old, other output": ".other.csv.abcd1234.tmp",
        }
        for what, name in planted.items():
            (tmp_path / name).write_bytes(b"")
            if what.startswith("old"):
                os.utime(tmp_path / name, (older, older))
        atomic_write_bytes(tmp_path / "out.csv", b"x")
        kept = {what for what, name in planted.items() if (tmp_path / name).exists()}
        assert kept == {"mine", "running", "other host", "old, other output"}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_output_checks_name_the_path_the_user_gave(tmp_path):
    (tmp_path / "f").write_bytes(KEEP)
    with pytest.raises(OutputError, match=r"^.*/f/a/b\.npy: .*/f is a file, not a folder\.$"):
        save_array(tmp_path / "f" / "a" / "b.npy", np.zeros(3))
    with pytest.raises(OutputError, match="is a folder, not a file"):
        atomic_write_bytes(tmp_path, b"")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=2, hidden_sizes=[1])).save_pretrained(tmp_path / "f")
    assert (tmp_path / "f").read_bytes() == KEEP


# -- outputs are checked finite ------------------------------------------------------------------


def test_check_finite_output_says_what_happened():
    check_finite_output(np.arange(3))  # integers cannot be NaN
    check_finite_output(torch.ones(2))
    with pytest.raises(NonFiniteOutputError) as e:
        check_finite_output(np.array([1.0, np.inf]), "out.npy")
    assert str(e.value) == (
        "out.npy was not written: the model produced non-finite values (NaN or infinity), "
        "so its model folder may be damaged."
    )
    with pytest.raises(NonFiniteOutputError):
        check_finite_output(torch.tensor([float("nan")]))


def overflowing_mlp(path):
    """A model folder whose finite weights overflow to inf/NaN on ordinary input."""
    model = dk.create_model("mlp", in_features=6, hidden_sizes=[3])
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3e38)
    return dk.DenoisingAutoencoder(model).save_pretrained(path)


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_denoise_refuses_to_write_non_finite_output(inputs, tmp_path, capsys, suffix):
    model = overflowing_mlp(tmp_path / "bad")
    out = tmp_path / f"clean{suffix}"
    out.write_bytes(KEEP)
    code, err = run(["denoise", model, inputs["table_npy"], "-o", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{out} was not written: the model produced non-finite values" in err and "damaged" in err
    assert out.read_bytes() == KEEP and temp_files(tmp_path) == []


def test_save_array_refuses_nan_and_keeps_the_old_file(tmp_path):
    out = tmp_path / "x.npy"
    out.write_bytes(KEEP)
    with pytest.raises(NonFiniteOutputError, match="x.npy was not written"):
        save_array(out, np.array([[1.0, np.nan]], np.float32))
    assert out.read_bytes() == KEEP


@needs("PIL")
def test_image_denoise_refuses_non_finite_pixels(inputs, tmp_path, capsys, monkeypatch):
    from daekit.apps.image import ImageDenoiser

    def nan_out(self, x, **kwargs):
        return torch.full_like(x, float("nan"))

    model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1)
    monkeypatch.setattr(type(model), "forward", nan_out)
    folder = ImageDenoiser(model).save_pretrained(tmp_path / "bad")
    out = tmp_path / "clean.png"
    out.write_bytes(KEEP)
    code, err = run(
        ["image", "denoise", inputs["png"], "-o", out, "--model", folder, "--sigma", "10", "--quiet"], capsys
    )
    assert code == 1 and "the model produced non-finite values" in err and "Traceback" not in err, err
    assert out.read_bytes() == KEEP and temp_files(tmp_path) == []


@needs("soundfile", "scipy")
def test_audio_writers_refuse_non_finite_samples(tmp_path):
    from daekit.data.audio import AudioWriter, save_audio

    out = tmp_path / "y.wav"
    out.write_bytes(KEEP)
    wave = np.zeros(800, np.float32)
    wave[5] = np.nan
    with pytest.raises(NonFiniteOutputError, match="y.wav was not written"):
        save_audio(out, wave, 8000)
    with pytest.raises(NonFiniteOutputError, match="y.wav was not written"), AudioWriter(out, 8000) as w:
        w.write(np.zeros(800, np.float32))
        w.write(wave)
    assert out.read_bytes() == KEEP and temp_files(tmp_path) == []


def test_anomaly_score_refuses_non_finite_scores(inputs, tmp_path, capsys, monkeypatch):
    from daekit.apps.anomaly import DAEDetector

    load = DAEDetector.load

    def damaged(path):  # loads (and passes the load-time checks), then scores NaN
        det = load(path)
        det.decision_function = lambda X: np.full(len(X), np.nan)
        return det

    monkeypatch.setattr(DAEDetector, "load", staticmethod(damaged))
    out = tmp_path / "scores.csv"
    out.write_bytes(KEEP)
    code, err = run(["anomaly", "score", inputs["detector"], inputs["table_csv"], "-o", out, "--quiet"], capsys)
    assert code == 2 and f"{out} was not written: the model produced non-finite values" in err, err
    assert out.read_bytes() == KEEP


@needs("sklearn")
def test_features_transform_refuses_non_finite_codes(inputs, tmp_path, capsys, monkeypatch):
    from daekit.apps.features import DAEFeatureExtractor

    monkeypatch.setattr(DAEFeatureExtractor, "transform", lambda self, X: np.full((len(X), 4), np.inf))
    out = tmp_path / "codes.npy"
    out.write_bytes(KEEP)
    code, err = run(["features", "transform", inputs["extractor"], inputs["table_npy"], "-o", out], capsys)
    assert code == 2 and f"{out} was not written: the model produced non-finite values" in err, err
    assert out.read_bytes() == KEEP
