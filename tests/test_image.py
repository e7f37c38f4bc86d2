"""daekit.apps.image: tiling, layouts, bit depth, alpha, model folders, training, demo."""

import numpy as np
import pytest
import torch

pytest.importorskip("PIL")

import daekit as dk
from daekit.apps.image import (
    PRETRAINED_DIR,
    ImageDenoiser,
    PatchObjective,
    _orient,
    compare_grid,
    synthetic_image,
    train_image_denoiser,
)
from daekit.data import image as im
from daekit.metrics import psnr
from daekit.models.image_unet import OPPONENT, estimate_noise_std


def tiny(channels=1, **kw):
    torch.manual_seed(0)
    return dk.create_model("image_unet", in_channels=channels, channels=(8, 16), blocks=1, **kw)


def identity(channels=1):
    """A residual model whose noise estimate is exactly zero: output == input."""
    model = tiny(channels)
    with torch.no_grad():
        model.tail.weight.zero_()
        model.tail.bias.zero_()
    return model


@pytest.mark.parametrize("tile,overlap", [(32, 8), (48, 16), (512, 32)])
def test_tiles_blend_back_to_the_exact_image(tile, overlap):
    x = np.random.default_rng(0).random((1, 100, 77), dtype=np.float32)
    out = ImageDenoiser(identity(), tile=tile, overlap=overlap).denoise_array(x, sigma=10)
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_tiled_result_is_close_to_whole_image_result():
    model = tiny()
    x = np.random.default_rng(1).random((1, 96, 96), dtype=np.float32)
    whole = ImageDenoiser(model, tile=512).denoise_array(x, sigma=20)
    tiled = ImageDenoiser(model, tile=64, overlap=24).denoise_array(x, sigma=20)
    assert np.abs(whole - tiled).mean() < 0.01  # seams blended; only the tile edges differ a little


def test_layouts_dtypes_and_alpha_are_kept():
    den = ImageDenoiser(identity(), tile=64, overlap=8)
    rng = np.random.default_rng(2)
    for shape, dtype in [
        ((40, 50), np.uint8),
        ((40, 50), np.uint16),
        ((40, 50, 3), np.uint8),
        ((40, 50, 4), np.uint8),
        ((40, 50, 2), np.uint16),
        ((40, 50, 1), np.uint8),
    ]:
        arr = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
        out = den(arr, sigma=5)
        assert out.shape == arr.shape and out.dtype == arr.dtype
        np.testing.assert_array_equal(out, arr)  # identity model: every value (and alpha) survives
    f = rng.random((30, 30)).astype(np.float32)
    np.testing.assert_allclose(den(f, sigma=5), f, atol=1e-6)


def test_colour_model_on_gray_and_bad_inputs():
    den = ImageDenoiser(identity(3), tile=64, overlap=8)
    gray = np.random.default_rng(3).integers(0, 255, (20, 20)).astype(np.uint8)
    np.testing.assert_array_equal(den(gray, sigma=5), gray)
    with pytest.raises(ValueError, match="NaN"):
        den(np.full((8, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="shape"):
        den(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        den(np.zeros((8, 8), np.int32))


def test_every_orientation_is_undone_exactly():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).reshape(2, 3, 5, 7)
    seen = set()
    for k in range(8):
        y = _orient(x, k)
        seen.add(tuple(y.flatten().tolist()[:12]) + tuple(y.shape))
        torch.testing.assert_close(_orient(y, k, undo=True), x, rtol=0, atol=0)
    assert len(seen) == 8  # eight different views of the same image


def test_self_ensemble_averages_the_undone_views():
    model = tiny()
    x = np.random.default_rng(5).random((1, 33, 45), dtype=np.float32)
    one = ImageDenoiser(model, tile=512).denoise_array(x, sigma=20)
    two = ImageDenoiser(model, tile=512, ensemble=2).denoise_array(x, sigma=20)
    with torch.no_grad():  # view 2 is an up-down flip: flip, denoise, flip back, average
        flipped = model(torch.from_numpy(x[None, :, ::-1].copy()), sigma=20 / 255)[0].flip(-2).numpy()
    np.testing.assert_allclose(two, (one + flipped) / 2, atol=1e-5)
    assert np.abs(two - one).max() > 1e-4  # an untrained net is not flip-equivariant
    tiled = ImageDenoiser(model, tile=24, overlap=6, ensemble=8).denoise_array(x, sigma=20)  # transposed tiles
    assert tiled.shape == x.shape and np.isfinite(tiled).all()
    np.testing.assert_allclose(ImageDenoiser(identity(), ensemble=8).denoise_array(x, sigma=5), x, atol=1e-6)
    for bad in (0, 9, 2.0):
        with pytest.raises(ValueError, match="ensemble"):
            ImageDenoiser(model, ensemble=bad)


def test_opponent_colour_space_runs_the_gray_net_on_luminance_and_chrominance():
    torch.testing.assert_close(OPPONENT @ OPPONENT.T, torch.eye(3), rtol=0, atol=1e-6)  # noise stays white
    gray = ImageDenoiser(tiny(), tile=64, overlap=8, ensemble=2)
    colour = gray.as_colour()
    assert colour.channels == 3 and colour.ensemble == 2 and colour.model.colour_space == "opponent"
    rgb = torch.rand(2, 3, 24, 20)
    sigma = torch.tensor([0.1, 0.2])
    with torch.no_grad():
        out = colour.model(rgb, sigma=sigma)
        opp = torch.einsum("ij,njhw->nihw", OPPONENT, rgb)
        lum = gray.model(opp[:, :1] / 3**0.5, sigma=sigma / 3**0.5) * 3**0.5  # mean of RGB, noise σ/√3
        chroma = [gray.model(opp[:, i : i + 1] + 0.5, sigma=sigma) - 0.5 for i in (1, 2)]
        expected = torch.einsum("ji,njhw->nihw", OPPONENT, torch.cat([lum] + chroma, 1))
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    assert colour.model.flops_per_pixel() == 3 * gray.model.flops_per_pixel()
    assert colour.model.encode(rgb).shape[:2] == (2, 3 * 16)
    x = np.random.default_rng(6).random((3, 40, 40), dtype=np.float32)
    np.testing.assert_allclose(ImageDenoiser(identity()).as_colour().denoise_array(x, 10), x, atol=1e-5)
    rgba = np.random.default_rng(7).integers(0, 256, (40, 40, 4)).astype(np.uint8)  # a gray model on colour
    np.testing.assert_array_equal(gray(rgba), colour(rgba))
    assert len(gray.last_sigma_) == 1
    with pytest.raises(ValueError, match="1-channel"):
        colour.as_colour()
    with pytest.raises(ValueError, match="in_channels=3"):
        dk.create_model("image_unet", in_channels=1, colour_space="opponent")


def test_blind_sigma_estimate_is_close():
    x = torch.full((1, 1, 128, 128), 0.5)
    s = estimate_noise_std(x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))
    assert abs(float(s) - 0.1) < 0.01
    den = ImageDenoiser(tiny())
    clean = synthetic_image(128).astype(np.float32)[None] / 255
    noisy = clean + 20 / 255 * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    assert abs(den.estimate_sigma(noisy) - 20) < 3


def test_save_and_load_round_trip(tmp_path):
    den = ImageDenoiser(tiny(3), tile=128, overlap=16, training={"steps": 1}, ensemble=3)
    den.save_pretrained(tmp_path / "m")
    back = ImageDenoiser.from_pretrained(tmp_path / "m")
    x = np.random.default_rng(4).random((3, 40, 40), dtype=np.float32)
    np.testing.assert_array_equal(den.denoise_array(x, 25), back.denoise_array(x, 25))
    assert back.tile == 128 and back.training == {"steps": 1} and back.ensemble == 3
    assert ImageDenoiser.from_pretrained(tmp_path / "m", ensemble=1).ensemble == 1  # a keyword overrides
    opp = ImageDenoiser(tiny()).as_colour()
    opp.save_pretrained(tmp_path / "o")
    np.testing.assert_array_equal(
        ImageDenoiser.from_pretrained(tmp_path / "o").denoise_array(x, 25), opp.denoise_array(x, 25)
    )
    den.save_pretrained(tmp_path / "h", half=True)  # fp16 weights load into the fp32 model
    np.testing.assert_allclose(
        ImageDenoiser.from_pretrained(tmp_path / "h").denoise_array(x, 25), back.denoise_array(x, 25), atol=2e-3
    )
    with pytest.raises(dk.ModelFileError):
        ImageDenoiser.from_pretrained(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no bundled image model"):
        ImageDenoiser.pretrained("sepia")


def test_patch_objective_trains_and_validates():
    tiles = torch.from_numpy(synthetic_image(64))[None, None].repeat(4, 1, 1, 1)
    obj = PatchObjective(tiny(), tiles, patch_size=32)
    loss = obj(torch.arange(6))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in obj.model.parameters())
    assert "tiles" not in obj.state_dict()  # the bank is never saved with the weights
    x = torch.rand(2, 1, 32, 32)
    assert torch.isfinite(obj(x, x + 0.1 * torch.randn_like(x), torch.tensor([0.1, 0.1])))


def test_train_image_denoiser_end_to_end(tmp_path):
    for i in range(2):
        im.write_image(tmp_path / f"{i}.png", synthetic_image(64, seed=i))
    den = train_image_denoiser(
        tmp_path,
        tmp_path / "run",
        channels=1,
        model={"name": "image_unet", "kwargs": {"channels": [8, 16], "blocks": 1}},
        patch_size=32,
        tile=64,
        max_steps=3,
        batch_size=4,
        quiet=True,
        device="cpu",
    )
    assert den.training["steps"] == 3
    back = ImageDenoiser.from_pretrained(tmp_path / "run")
    assert back(synthetic_image(40), sigma=10).shape == (40, 40)
    # A further stage starts from those weights (a tiny learning rate barely moves them).
    more = train_image_denoiser(
        tmp_path,
        tmp_path / "run2",
        channels=1,
        init=tmp_path / "run",
        patch_size=32,
        tile=64,
        max_steps=1,
        batch_size=4,
        lr=1e-12,
        quiet=True,
        device="cpu",
    )
    for a, b in zip(back.model.state_dict().values(), more.model.state_dict().values()):
        torch.testing.assert_close(a.float(), b.float(), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="channel"):
        train_image_denoiser(tmp_path, tmp_path / "run3", channels=3, init=tmp_path / "run", max_steps=1)
    # The colour recipe's --opponent stage: the gray net in the opponent space, trained on colour.
    back.as_colour().save_pretrained(tmp_path / "opp")
    colour = train_image_denoiser(
        tmp_path,
        tmp_path / "run4",
        channels=3,
        init=tmp_path / "opp",
        patch_size=32,
        tile=64,
        max_steps=2,
        batch_size=4,
        quiet=True,
        device="cpu",
    )
    assert colour.model.colour_space == "opponent" and colour.training["steps"] == 2
    moved = [
        not torch.equal(a, b) for a, b in zip(back.model.state_dict().values(), colour.model.state_dict().values())
    ]
    assert any(moved)  # the shared single-channel weights were trained


def test_train_with_a_noise_process_records_it(tmp_path):
    """The photo recipe's path: camera noise instead of Gaussian, kept in the training record."""
    for i in range(2):
        im.write_image(tmp_path / f"{i}.png", np.repeat(synthetic_image(64, seed=i)[..., None], 3, 2))
    noise = dk.noise.OneOf([dk.noise.Camera(), dk.noise.Gaussian(std=(0.0, 0.2))], p=[0.7, 0.3])
    den = train_image_denoiser(
        tmp_path,
        tmp_path / "run",
        channels=3,
        model={"name": "image_unet", "kwargs": {"channels": [8, 16], "blocks": 1, "noise_map": True}},
        patch_size=32,
        tile=64,
        max_steps=2,
        batch_size=4,
        quiet=True,
        device="cpu",
        noise=noise,
    )
    assert den.training["noise"]["type"] == "OneOf"
    assert ImageDenoiser.from_pretrained(tmp_path / "run").training["noise"]["transforms"][0]["type"] == "Camera"


def test_strength_blends_output_and_input():
    den = ImageDenoiser(tiny(1, noise_map=True).eval())
    noisy = (np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)
    full = den(noisy, sigma=25).astype(float)
    assert np.array_equal(den(noisy, sigma=25, strength=0.0), noisy)  # nothing applied: the input, bit for bit
    half = den(noisy, sigma=25, strength=0.5).astype(float)
    inside = (full > 0) & (full < 255)  # where the full output was not clipped
    assert np.abs(half - (full + noisy) / 2)[inside].max() <= 1.0  # rounding only
    rgb = np.stack([noisy, noisy[::-1], noisy.T], -1)
    assert np.array_equal(den(rgb, sigma=25, strength=0.0), rgb)  # the opponent-space path too
    with pytest.raises(ValueError, match="strength"):
        den(noisy, strength=1.5)


def test_gpu_recipe_path_bf16_channels_last_runs_on_cpu(tmp_path):
    """The GPU settings (bf16 autocast, channels-last, bank on the device) on the CPU."""
    from daekit.train import TrainConfig

    tiles = torch.from_numpy(synthetic_image(64))[None, None].repeat(4, 1, 1, 1)
    cfg = TrainConfig(
        max_steps=2, batch_size=4, precision="bf16", channels_last=True, device="cpu", quiet=True, tensorboard=False
    )
    den = train_image_denoiser(
        tiles,
        tmp_path / "run",
        channels=1,
        patch_size=32,
        config=cfg,
        model={"name": "image_unet", "kwargs": {"channels": [8, 16], "blocks": 1}},
    )
    assert den.training["steps"] == 2
    assert np.isfinite(den(synthetic_image(32), sigma=10).astype(float)).all()


def test_compare_grid_makes_one_rgb_picture():
    a = synthetic_image(32)
    grid = compare_grid([a, np.dstack([a] * 4)], ["clean", "rgba"])
    assert grid.dtype == np.uint8 and grid.shape == (32 + 24, 32 + 8 + 32, 3)


needs_weights = pytest.mark.skipif(
    not (PRETRAINED_DIR / "gray" / "config.json").is_file(), reason="bundled gray weights not present"
)


@needs_weights
def test_bundled_gray_model_removes_noise():
    clean = synthetic_image(128, seed=5)
    noisy = clean / 255 + 25 / 255 * np.random.default_rng(0).standard_normal(clean.shape)
    den = ImageDenoiser.pretrained("gray")
    out = den(noisy.astype(np.float32))
    assert psnr(out * 255, clean) > psnr(noisy * 255, clean) + 5


@needs_weights
def test_demo_writes_before_after_picture(tmp_path, capsys):
    from daekit.apps.image import demo

    result = demo(tmp_path)
    assert result["gain_db"] > 5 and (tmp_path / "image_demo.png").is_file()
    assert "PSNR" in capsys.readouterr().out


@pytest.mark.slow
def test_8000_by_8000_rgb_stays_within_bounded_memory():
    """Peak memory ~ the image itself (uint8 in + out) plus one row of tiles, not float copies."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import resource, numpy as np, torch
        import daekit as dk
        from daekit.apps.image import ImageDenoiser
        torch.manual_seed(0)
        model = dk.create_model("image_unet", in_channels=3, channels=(8, 16), blocks=1)
        img = np.zeros((8000, 8000, 3), np.uint8)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = ImageDenoiser(model, tile=512, overlap=32)(img, sigma=10)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(out.shape, (after - before) // 1024)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shape, grown_mb = res.stdout.split(")")
    assert "8000, 8000, 3" in shape
    # The float32 image alone would be 768 MB; ours converts it once (768 MB) plus rows of tiles.
    assert int(grown_mb) < 1500, res.stdout
