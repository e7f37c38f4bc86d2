"""``daekit image ...`` end to end: per-file errors, exit codes, outputs."""

import numpy as np
import pytest
import torch

pytest.importorskip("PIL")

import daekit as dk
from daekit.apps.image import ImageDenoiser, synthetic_image
from daekit.cli import main
from daekit.data import image as im


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1)
    return ImageDenoiser(model).save_pretrained(tmp_path / "model")


def test_denoise_folder_goes_on_after_a_bad_file(tmp_path, model_dir, capsys):
    src = tmp_path / "in"
    src.mkdir()
    im.write_image(src / "a.png", synthetic_image(48))
    im.write_image(src / "c.tif", (synthetic_image(40).astype(np.uint16) * 257))
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code = main(["image", "denoise", str(src), "-o", str(tmp_path / "out"), "--model", str(model_dir), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "b.png" in err and "1 of 3" in err and "Traceback" not in err
    assert im.read_image(tmp_path / "out" / "a.png").shape == (48, 48)
    assert im.read_image(tmp_path / "out" / "c.tif").dtype == np.uint16  # 16-bit kept
    assert not (tmp_path / "out" / "b.png").exists()


def test_denoise_one_file_to_a_file_name_and_gray_model_on_rgb(tmp_path, model_dir):
    rgb = np.dstack([synthetic_image(32, seed=s) for s in range(3)])
    im.write_image(tmp_path / "x.png", rgb)
    out = tmp_path / "y.png"
    assert (
        main(
            [
                "image",
                "denoise",
                str(tmp_path / "x.png"),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--sigma",
                "10",
                "--quiet",
            ]
        )
        == 0
    )
    assert im.read_image(out).shape == (32, 32, 3)


def test_denoise_prints_the_estimated_noise_level(tmp_path, capsys):
    torch.manual_seed(0)
    model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1, noise_map=True)
    folder = ImageDenoiser(model).save_pretrained(tmp_path / "model")
    clean = synthetic_image(96).astype(np.float64)
    noisy = np.clip(clean + 20 * np.random.default_rng(0).standard_normal(clean.shape), 0, 255).astype(np.uint8)
    im.write_image(tmp_path / "noisy.png", noisy)
    im.write_image(tmp_path / "flat.png", np.full((64, 64), 128, np.uint8))
    for name in ("noisy", "flat"):
        assert (
            main(
                [
                    "image",
                    "denoise",
                    str(tmp_path / f"{name}.png"),
                    "-o",
                    str(tmp_path / f"{name}_out.png"),
                    "--model",
                    str(folder),
                ]
            )
            == 0
        )
    err = capsys.readouterr().err
    level = float(err.split("estimated noise σ ")[1].split()[0])
    assert 15 < level < 25
    assert "flat.png: no noise detected" in err
    assert ImageDenoiser.from_pretrained(folder)(noisy, sigma="auto").shape == noisy.shape
    with pytest.raises(ValueError, match="'auto'"):
        ImageDenoiser.from_pretrained(folder)(noisy, sigma="blind")


def test_bad_model_folder_is_a_user_error(tmp_path, capsys):
    im.write_image(tmp_path / "x.png", synthetic_image(16))
    code = main(
        [
            "image",
            "denoise",
            str(tmp_path / "x.png"),
            "-o",
            str(tmp_path / "o"),
            "--model",
            str(tmp_path / "missing"),
            "--quiet",
        ]
    )
    assert code == 2 and "daekit: error:" in capsys.readouterr().err


def test_add_noise_then_compare(tmp_path, capsys):
    im.write_image(tmp_path / "clean.png", synthetic_image(64))
    assert (
        main(
            [
                "image",
                "add-noise",
                str(tmp_path / "clean.png"),
                "-o",
                str(tmp_path / "noisy.png"),
                "--sigma",
                "25",
                "--quiet",
            ]
        )
        == 0
    )
    noisy = im.read_image(tmp_path / "noisy.png").astype(float)
    assert 20 < np.std(noisy - synthetic_image(64)) < 30
    assert (
        main(
            [
                "image",
                "compare",
                str(tmp_path / "clean.png"),
                str(tmp_path / "noisy.png"),
                "-o",
                str(tmp_path / "grid.png"),
            ]
        )
        == 0
    )
    assert "PSNR" in capsys.readouterr().out
    assert im.read_image(tmp_path / "grid.png").shape == (64 + 24, 64 * 2 + 8, 3)


def test_compare_refuses_different_sizes(tmp_path, capsys):
    im.write_image(tmp_path / "a.png", synthetic_image(32))
    im.write_image(tmp_path / "b.png", synthetic_image(40))
    assert (
        main(["image", "compare", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "g.png")]) == 2
    )
    assert "equal sizes" in capsys.readouterr().err


def test_train_command(tmp_path):
    for i in range(2):
        im.write_image(tmp_path / f"{i}.png", synthetic_image(64, seed=i))
    code = main(
        [
            "image",
            "train",
            str(tmp_path),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--patch",
            "32",
            "--tile",
            "64",
            "--quiet",
            "--device",
            "cpu",
        ]
    )
    assert code == 0 and (tmp_path / "run" / "model.safetensors").is_file()


def test_never_overwrites_the_input(tmp_path, model_dir, capsys):
    im.write_image(tmp_path / "a.png", synthetic_image(16))
    before = (tmp_path / "a.png").read_bytes()
    assert main(["image", "denoise", str(tmp_path), "-o", str(tmp_path), "--model", str(model_dir), "--quiet"]) == 1
    assert (tmp_path / "a.png").read_bytes() == before and "overwrite" in capsys.readouterr().err
