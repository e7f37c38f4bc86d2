"""``daekit features fit / transform / filters / map``: outputs and one-sentence errors."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from daekit.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    root = tmp_path_factory.mktemp("feat")
    np.savez(root / "digits.npz", x_train=X[:300].reshape(-1, 8, 8).astype(np.uint8), y_train=y[:300])
    np.save(root / "flat.npy", X[:50])
    np.save(root / "narrow.npy", X[:50, :10])
    rc = main(
        [
            "features",
            "fit",
            str(root / "digits.npz"),
            "--key",
            "x_train",
            "--out",
            str(root / "model"),
            "--hidden",
            "16",
            "--epochs",
            "2",
            "--threads",
            "1",
            "--quiet",
            "--labels",
            str(root / "digits.npz"),
            "--labels-key",
            "y_train",
        ]
    )
    assert rc == 0
    return root


def test_fit_writes_model_and_codes_map(files):
    assert (files / "model" / "config.json").is_file()
    assert (files / "model" / "codes_map.png").read_bytes()[:8] == PNG


def test_transform_filters_map(files, capsys):
    assert (
        main(["features", "transform", str(files / "model"), str(files / "flat.npy"), "-o", str(files / "Z.npy")]) == 0
    )
    Z = np.load(files / "Z.npy")
    assert Z.shape == (50, 16) and Z.dtype == np.float32
    assert main(["features", "filters", str(files / "model"), "-o", str(files / "filters.png")]) == 0
    assert (files / "filters.png").read_bytes()[:8] == PNG
    assert (
        main(
            [
                "features",
                "map",
                str(files / "model"),
                str(files / "digits.npz"),
                "--key",
                "x_train",
                "--labels",
                str(files / "digits.npz"),
                "--labels-key",
                "y_train",
                "-o",
                str(files / "map.png"),
            ]
        )
        == 0
    )
    assert (files / "map.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["transform", "{m}", "{r}/narrow.npy", "-o", "{r}/z.npy"],
            "rows have 10 values but the model was fitted on 64",
        ),
        (["transform", "{r}/nowhere", "{r}/flat.npy", "-o", "{r}/z.npy"], "is not a model folder"),
        (["transform", "{m}", "{r}/flat.npy", "-o", "{r}/z.csv"], "written as .npy"),
        (["transform", "{m}", "{r}/missing.npy", "-o", "{r}/z.npy"], "missing.npy: no such file"),
        (
            ["fit", "{r}/flat.npy", "--out", "{r}/m2", "--hidden", "a,b"],
            "argument --hidden: each value must be a whole number of 1 or more, not 'a'",
        ),
        (
            ["fit", "{r}/flat.npy", "--out", "{r}/m2", "--epochs", "0"],
            "argument --epochs: must be a whole number of 1 or more, not '0'",
        ),
        (["fit", "{r}/flat.npy", "--out", "{r}/m2", "--labels", "{r}/narrow.npy"], "labels must be one value per row"),
        (
            ["map", "{m}", "{r}/flat.npy", "--labels", "{r}/digits.npz", "--labels-key", "y_train", "-o", "{r}/x.png"],
            "has 300 labels but X has 50 rows",
        ),
    ],
)
def test_errors_are_one_sentence(files, capsys, argv, message):
    argv = [a.format(m=files / "model", r=files) for a in argv]
    assert main(["features", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("daekit: error: ") and message in err and "Traceback" not in err


def test_nan_rows_are_refused(files, capsys):
    bad = np.load(files / "flat.npy")
    bad[2, 3] = np.nan
    np.save(files / "nan.npy", bad)
    assert (
        main(["features", "transform", str(files / "model"), str(files / "nan.npy"), "-o", str(files / "z.npy")]) == 2
    )
    assert "NaN" in capsys.readouterr().err
