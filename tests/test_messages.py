"""Hostile inputs get one true sentence: every command, the wrong kind of file, a broken one.

Each case is a command run through ``daekit.cli.main`` on an input that is wrong in a way
people meet (a truncated ``.npy``, a folder where a file goes, a PNG named ``.csv``, a
CSV in Latin-1...). It must exit 2 with one sentence, no traceback, and say what is
really wrong: ``says`` holds the key words of the corrected sentence and ``old`` a piece
of the misleading one it replaced (or of the traceback), which must not come back.
"""

import errno
import re
import wave

import numpy as np
import pytest

from daekit.cli import error_sentence, main


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    """A folder of bad inputs (and a few good ones to point them at)."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    np.save(d / "good.npy", x)
    whole = (d / "good.npy").read_bytes()
    (d / "trunc.npy").write_bytes(whole[: len(whole) // 2])
    (d / "cut_header.npy").write_bytes(whole[:100])
    (d / "garbage.npy").write_bytes(bytes(range(256)) * 2)
    (d / "empty.npy").write_bytes(b"")
    np.save(d / "text.npy", np.array(["a", "b", "c"]))
    np.savez(d / "multi.npz", A=x, B=x[:, :2])
    np.savez(d / "objects.npz", X=np.array([{"a": 1}], dtype=object))
    zipped = (d / "multi.npz").read_bytes()
    (d / "trunc.npz").write_bytes(zipped[: len(zipped) // 2])
    (d / "garbage.npz").write_bytes(bytes(range(256)) * 2)
    (d / "empty.npz").write_bytes(b"")
    (d / "header.csv").write_text("a,b,c,d\n")
    (d / "text_cell.csv").write_text("a,b,c,d\n1,2,x,4\n5,6,7,8\n")
    (d / "ragged.csv").write_text("a,b,c,d\n1,2,3,4\n5,6,7\n1,2,3,4\n")
    (d / "latin1.csv").write_bytes("a,b,caf\xe9,d\n1,2,3,4\n5,6,7,8\n".encode("latin-1"))
    (d / "notes.txt").write_text("hello world\nthis is text\n")
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    (d / "image.csv").write_bytes(png)
    (d / "image.npy").write_bytes(png)
    with wave.open(str(d / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(4000) / 5) * 10000).astype("<i2").tobytes())
    for folder in ("folder", "folder.csv", "empty_folder", "small_images"):
        (d / folder).mkdir()
    (d / "folder" / "a.csv").write_text("1,2\n3,4\n")
    pytest.importorskip("PIL")
    from PIL import Image

    Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(d / "small_images" / "s.png")
    return d


@pytest.fixture(scope="module")
def detector(d):
    """A detector fitted on a headerless .npy: its columns are col0..col3."""
    out = d / "det"
    assert main(["anomaly", "fit", str(d / "good.npy"), "--out", str(out), "--epochs", "1", "--members", "1"]) == 0
    (d / "named.csv").write_text("a,b,c,d\n" + "\n".join("1,2,3,4" for _ in range(5)) + "\n")
    return out


def run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def assert_one_sentence(err):
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    sentence = lines[0].removeprefix("daekit: error: ")
    assert sentence.endswith(".") and len(re.split(r"(?<=[.!?])\s+(?=[A-Z])", sentence)) == 1, sentence


# (command with {d} for the folder of bad inputs, key words now, a piece of the old message)
CASES = [
    # A truncated .npy was said to hold Python objects.
    (["train", "{d}/trunc.npy", "--out", "{d}/r"], ["truncated", "shape (40, 4)"], "Python objects"),
    (["train", "{d}/cut_header.npy", "--out", "{d}/r"], ["header is truncated"], "Python objects"),
    # A folder where a file goes was "no such file or folder".
    (["train", "{d}/folder", "--out", "{d}/r"], ["is a folder", ".npy, .npz or .csv"], "no such file"),
    (["features", "fit", "{d}/folder.csv", "--out", "{d}/r"], ["is a folder"], "no such file"),
    (["anomaly", "fit", "{d}/empty_folder", "--out", "{d}/r"], ["is a folder", "table"], "no such file"),
    (["audio", "stream", "{d}/folder", "-o", "{d}/o.wav"], ["is a folder, not a file"], "no such file"),
    (
        ["audio", "denoise", "{d}/tone.wav", "-o", "{d}/o", "--model", "{d}/good.npy"],
        ["is a file, not a folder"],
        "no such",
    ),
    # A multi-array .npz: train had no --key, and the message showed key=None.
    (["train", "{d}/multi.npz", "--out", "{d}/r"], ["A, B", "none is named X", "--key"], "key=None"),
    (["anomaly", "fit", "{d}/multi.npz", "--out", "{d}/r"], ["A, B", "npz_key="], "--key"),
    (["train", "{d}/multi.npz", "--key", "C", "--out", "{d}/r"], ["no array 'C'", "A, B"], "key=None"),
    # An empty folder to image train was a tile-size problem; the folder was a Python list.
    (["image", "train", "{d}/empty_folder", "--out", "{d}/r"], ["no image files", "empty_folder"], "tile size"),
    (["image", "train", "{d}/small_images", "--out", "{d}/r"], ["128×128", "--tile"], "['"),
    # Tables: a header only was "0 rows and 0 columns"; a text cell's column was 0-based.
    (["train", "{d}/header.csv", "--out", "{d}/r"], ["header line but no data rows"], "0 columns"),
    (["features", "fit", "{d}/text_cell.csv", "--out", "{d}/r"], ["line 2, column 3 ('c')", "'x'"], "column 2 is"),
    (["train", "{d}/latin1.csv", "--out", "{d}/r"], ["not UTF-8", "0xe9", "line 1"], "not a text file"),
    (["train", "{d}/image.csv", "--out", "{d}/r"], ["PNG image"], "not a text file"),
    (["anomaly", "fit", "{d}/image.csv", "--out", "{d}/r"], ["PNG image"], "UTF-8"),
    (["train", "{d}/image.npy", "--out", "{d}/r"], ["PNG image"], "truncated or corrupt"),
    (["train", "{d}/text.npy", "--out", "{d}/r"], ["holds text", "real numbers"], "<U1"),
    (["train", "{d}/empty.npy", "--out", "{d}/r"], ["empty (0 bytes)"], "corrupt"),
    # noise estimate / select had a reader of their own that leaked numpy's words or crashed.
    (["noise", "estimate", "{d}/trunc.npy"], ["truncated"], "Failed to read all data"),
    (["noise", "estimate", "{d}/garbage.npy"], ["not a readable .npy file"], "allow_pickle"),
    (["noise", "estimate", "{d}/trunc.npz"], ["not a readable .npz file"], "BadZipFile"),
    (["noise", "estimate", "{d}/empty.npy"], ["empty (0 bytes)"], "EOFError"),
    (["noise", "estimate", "{d}/ragged.csv"], ["line 3 has 3 fields"], "Line #3"),
    (["noise", "estimate", "{d}/latin1.csv"], ["not UTF-8"], "codec can't decode"),
    (["noise", "estimate", "{d}/folder"], ["is a folder"], "no extension"),
    (["noise", "estimate", "{d}/text.npy"], ["text.npy", "holds text"], "dtype <U1"),
    (["noise", "select", "{d}/empty.npz", "--task", "anomaly"], ["empty (0 bytes)"], "EOFError"),
    (["noise", "select", "{d}/garbage.npz", "--task", "anomaly"], ["not a readable .npz file"], "allow_pickle"),
    (["noise", "select", "{d}/objects.npz", "--task", "anomaly"], ["never unpickles"], "allow_pickle"),
    (["noise", "select", "{d}/notes.txt", "--task", "anomaly"], ["notes.txt", "at least 2"], "IndexError"),
    (["noise", "select", "{d}/multi.npz", "--task", "anomaly"], ["A, B", "--key"], "['A', 'B']"),
]


@pytest.mark.parametrize("argv,says,old", CASES, ids=[" ".join(c[0][:2]) + f" {c[0][2:3]}" for c in CASES])
def test_hostile_input_gets_one_true_sentence(d, detector, capsys, argv, says, old):
    code, err = run([a.format(d=d) for a in argv], capsys)
    assert code == 2, err
    assert_one_sentence(err)
    for words in says:
        assert words in err, err
    assert old not in err, err


def test_a_detector_fitted_without_a_header_explains_its_column_names(d, detector, capsys):
    code, err = run(["anomaly", "score", detector, d / "named.csv", "-o", d / "s.csv"], capsys)
    assert code == 2
    assert_one_sentence(err)
    assert "no column 'col0'" in err and "without a header line" in err


def test_train_and_denoise_read_the_npz_array_named_by_key(d, capsys):
    code, _ = run(["train", d / "multi.npz", "--key", "A", "--out", d / "m", "--hidden", "4", "--steps", "2"], capsys)
    assert code == 0
    code, err = run(["denoise", d / "m", d / "multi.npz", "--key", "A", "-o", d / "clean.npy"], capsys)
    assert code == 0, err
    assert np.load(d / "clean.npy").shape == (40, 4)


@pytest.mark.parametrize(
    "exc,says",
    [
        (OSError(errno.ENOSPC, "No space left on device", "/data/out.npy"), "/data/out.npy: no space left on device."),
        (FileExistsError(errno.EEXIST, "File exists", "/runs/a"), "/runs/a is a file, not a folder."),
        (ModuleNotFoundError("No module named 'soundfile'", name="soundfile"), "pip install 'daekit[audio]'"),
    ],
)
def test_os_and_import_errors_lose_their_python_form(exc, says):
    sentence = error_sentence(exc)
    assert says in sentence and "[Errno" not in sentence and "No module named" not in sentence


def test_not_a_directory_names_the_file_in_the_way(tmp_path):
    (tmp_path / "a.csv").write_text("1\n")
    e = NotADirectoryError(errno.ENOTDIR, "Not a directory", str(tmp_path / "a.csv" / "x.npy"))
    assert error_sentence(e) == f"{tmp_path / 'a.csv' / 'x.npy'}: {tmp_path / 'a.csv'} is a file, not a folder."
