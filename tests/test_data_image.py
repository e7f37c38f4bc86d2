"""daekit.data.image: reading/writing every supported layout, bad files, patches."""

import numpy as np
import pytest
import torch

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from daekit.data import image as im  # noqa: E402


def _rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize(
    "suffix,shape,dtype",
    [
        (".png", (20, 30), np.uint8),
        (".png", (20, 30, 2), np.uint8),
        (".png", (20, 30, 3), np.uint8),
        (".png", (20, 30, 4), np.uint8),
        (".png", (20, 30), np.uint16),
        (".png", (20, 30, 2), np.uint16),
        (".png", (20, 30, 3), np.uint16),
        (".png", (20, 30, 4), np.uint16),
        (".tif", (20, 30), np.uint16),
        (".tif", (20, 30, 2), np.uint16),
        (".tif", (20, 30, 3), np.uint16),
        (".tif", (20, 30, 4), np.uint16),
        (".tif", (20, 30, 3), np.uint8),
        (".bmp", (20, 30, 3), np.uint8),
        (".bmp", (20, 30), np.uint8),
    ],
)
def test_write_then_read_is_lossless(tmp_path, suffix, shape, dtype):
    arr = _rng().integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    path = im.write_image(tmp_path / f"a{suffix}", arr)
    back = im.read_image(path)
    assert back.dtype == dtype and back.shape == shape
    np.testing.assert_array_equal(back, arr)


def test_jpeg_reads_as_rgb_uint8(tmp_path):
    arr = np.full((16, 24, 3), 120, np.uint8)
    back = im.read_image(im.write_image(tmp_path / "a.jpg", arr))
    assert back.shape == (16, 24, 3) and back.dtype == np.uint8 and abs(int(back.mean()) - 120) <= 2


def test_palette_becomes_rgb(tmp_path):
    Image.new("P", (8, 6), 3).save(tmp_path / "p.png")
    assert im.read_image(tmp_path / "p.png").shape == (6, 8, 3)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 10), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "o.jpg", exif=exif.tobytes())
    assert im.read_image(tmp_path / "o.jpg").shape == (40, 10, 3)


@pytest.mark.parametrize(
    "content,words",
    [
        (b"", "empty"),
        (b"hello, not an image", "not an image"),
    ],
)
def test_bad_files_get_one_sentence_naming_the_file(tmp_path, content, words):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=words) as e:
        im.read_image(path)
    assert "bad.png" in str(e.value)


def test_truncated_png_is_reported(tmp_path):
    im.write_image(tmp_path / "full.png", _rng().integers(0, 255, (64, 64, 3)).astype(np.uint8))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png.*(corrupt|truncated)"):
        im.read_image(tmp_path / "cut.png")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    im.write_image(tmp_path / "big.png", np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError, match="decompression bomb"):
        im.read_image(tmp_path / "big.png", max_pixels=5000)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        im.read_image("/no/such/file.png")


def test_write_refuses_alpha_in_jpeg_and_16bit_in_8bit_formats(tmp_path):
    with pytest.raises(ValueError, match="alpha"):
        im.write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), np.uint8))
    for name in ("a.jpg", "a.bmp"):
        with pytest.raises(ValueError, match="16-bit"):
            im.write_image(tmp_path / name, np.zeros((4, 4, 3), np.uint16))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_list_images_and_tiles(tmp_path):
    for i in range(3):
        im.write_image(tmp_path / f"{i}.png", _rng().integers(0, 255, (70, 140)).astype(np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in im.list_images(tmp_path)] == ["0.png", "1.png", "2.png"]
    tiles = im.load_tiles(tmp_path, tile=64, channels=3)
    assert tiles.shape == (6, 3, 64, 64) and tiles.dtype == torch.uint8
    assert torch.equal(tiles[:, 0], tiles[:, 1])  # gray repeated for RGB
    with pytest.raises(ValueError, match="at least"):
        im.load_tiles(tmp_path, tile=200)


def test_tiles_of_large_photos_can_be_scaled_down_first(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgba = _rng().integers(0, 256, (200, 300, 4)).astype(np.uint8)
    im.write_image(tmp_path / "a.png", rgba)
    tiles = im.load_tiles(tmp_path, tile=64, channels=3, max_side=150)  # 300×200 → 150×100: 2 tiles
    want = np.asarray(Image.fromarray(rgba[..., :3]).resize((150, 100), Image.Resampling.BOX))  # alpha dropped first
    assert tiles.shape == (2, 3, 64, 64)
    assert torch.equal(tiles[0], torch.from_numpy(want[:64, :64].transpose(2, 0, 1).copy()))
    deep = (_rng().random((80, 120)) * 65535).astype(np.uint16)  # 16-bit gray, scaled in float
    im.write_image(tmp_path / "b.png", deep)
    small = im._shrink(im.read_image(tmp_path / "b.png"), 60)
    assert small.shape == (40, 60) and small.dtype == np.uint16
    assert abs(int(small[0, 0]) - deep[:2, :2].mean()) <= 1
    assert im.load_tiles(tmp_path / "a.png", tile=64, channels=3, max_side=1000).shape == (
        12,
        3,
        64,
        64,
    )  # not enlarged


def test_augment8_gives_the_eight_symmetries_of_the_square():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(8, 1, 1, 1)
    out = im.augment8(x, torch.arange(8))
    base = x[0, 0]
    expected = [torch.rot90(base, k, (0, 1)) for k in range(4)] + [torch.rot90(base.T, k, (0, 1)) for k in range(4)]
    for e in expected:
        assert any(torch.equal(o[0], e) for o in out)
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8


def test_random_patches_are_crops_in_unit_range_and_reproducible():
    tiles = torch.randint(0, 256, (5, 1, 32, 32), dtype=torch.uint8)
    a = im.random_patches(tiles, 10, 16, torch.Generator().manual_seed(3), augment=False)
    b = im.random_patches(tiles, 10, 16, torch.Generator().manual_seed(3), augment=False)
    assert a.shape == (10, 1, 16, 16) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    # every patch is a real crop of some tile
    t = tiles.float() / 255
    for p in a:
        found = any(
            torch.equal(t[i, :, y : y + 16, x : x + 16], p) for i in range(5) for y in range(17) for x in range(17)
        )
        assert found
    with pytest.raises(ValueError, match="larger"):
        im.random_patches(tiles, 1, 40)


def test_patch_dataset_is_deterministic_per_index():
    ds = im.PatchDataset(torch.randint(0, 256, (3, 1, 40, 40), dtype=torch.uint8), patch_size=24, length=7)
    assert len(ds) == 7 and ds[2].shape == (1, 24, 24) and torch.equal(ds[2], ds[2])
    assert not torch.equal(ds[1], ds[2])
