"""One reader for every way in: images keep their bit depth and alpha, and broken recordings
are refused alike by the CLI, the Python API and the server (issue 18, defects 5 and 6)."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch

pytest.importorskip("PIL")
sf = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

import daekit as dk  # noqa: E402
from daekit.apps.image import ImageDenoiser  # noqa: E402
from daekit.apps.speech import SpeechEnhancer  # noqa: E402
from daekit.cli import main  # noqa: E402
from daekit.data import image as im  # noqa: E402
from daekit.data import image16  # noqa: E402
from daekit.data.audio import load_audio, save_audio  # noqa: E402

LAYOUTS = {"gray": (), "gray+alpha": (2,), "rgb": (3,), "rgba": (4,)}
DEPTHS = {8: np.uint8, 16: np.uint16}
CASES = [(layout, depth) for layout in LAYOUTS for depth in DEPTHS]


def picture(layout: str, depth: int, size: int = 24, seed: int = 0) -> np.ndarray:
    """A smooth picture with noise in every bit, and an alpha channel that is not flat."""
    dtype = DEPTHS[depth]
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(seed)
    shape = (size, size) + LAYOUTS[layout]
    ramp = np.linspace(0.2, 0.8, size)[:, None] * np.ones(shape[:2])
    x = ramp[..., None] if len(shape) == 3 else ramp
    x = np.clip(x + 0.05 * rng.standard_normal(shape), 0, 1)
    arr = np.rint(x * top).astype(dtype)
    if layout in ("gray+alpha", "rgba"):
        arr[..., -1] = rng.integers(0, top, shape[:2], endpoint=True, dtype=dtype)
    return arr


def check_kept(out: np.ndarray, given: np.ndarray) -> None:
    assert out.dtype == given.dtype and out.shape == given.shape
    if given.ndim == 3 and given.shape[2] in (2, 4):
        np.testing.assert_array_equal(out[..., -1], given[..., -1])  # alpha passes through untouched
    if given.dtype == np.uint16:  # the low byte carries information: not an 8-bit image scaled up
        assert np.any(out % 257 != 0)


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    torch.manual_seed(0)
    model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1)
    return str(ImageDenoiser(model).save_pretrained(tmp_path_factory.mktemp("m") / "gray"))


# -- images: the codec ------------------------------------------------------------------------


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def reference_png(arr: np.ndarray, filters: list[int], interlace: bool = False) -> bytes:
    """A 16-bit PNG written byte by byte the way the PNG specification spells it out, with
    the given row filters in turn (what libpng writes picks among them per row)."""
    bpp = 2 * arr.shape[2]

    def filtered(img):
        rows = img.astype(">u2").view(np.uint8).reshape(img.shape[0], -1).astype(int)
        out = bytearray()
        for r, row in enumerate(rows):
            kind = filters[r % len(filters)]
            out.append(kind)
            for i, x in enumerate(row):
                a = row[i - bpp] if i >= bpp else 0
                b = rows[r - 1][i] if r else 0
                c = rows[r - 1][i - bpp] if r and i >= bpp else 0
                out.append((x - [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]) % 256)
        return bytes(out)

    passes = image16._ADAM7 if interlace else ((0, 0, 1, 1),)
    raw = b"".join(filtered(arr[y::dy, x::dx]) for x, y, dx, dy in passes if arr[y::dy, x::dx].size)
    colour = {2: 4, 3: 2, 4: 6}[arr.shape[2]]
    header = struct.pack(">IIBBBBB", arr.shape[1], arr.shape[0], 16, colour, 0, 0, int(interlace))
    chunk = image16._png_chunk
    return image16._PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("interlace", [False, True], ids=["progressive", "adam7"])
@pytest.mark.parametrize("filters", [[0], [1], [2], [3], [4], [4, 0, 3, 1, 2]], ids=lambda f: "".join(map(str, f)))
def test_16bit_colour_png_with_every_filter_is_read_exactly(tmp_path, filters, interlace):
    arr = np.random.default_rng(1).integers(0, 65535, (9, 11, 3), endpoint=True, dtype=np.uint16)
    (tmp_path / "a.png").write_bytes(reference_png(arr, filters, interlace))
    np.testing.assert_array_equal(im.read_image(tmp_path / "a.png"), arr)


@pytest.mark.parametrize("channels", [2, 3, 4])
@pytest.mark.parametrize("compression,predictor,planar", [(None, None, "contig"), ("zlib", True, "separate")])
def test_16bit_colour_tiff_from_another_writer_is_read_exactly(tmp_path, channels, compression, predictor, planar):
    tifffile = pytest.importorskip("tifffile")
    arr = np.random.default_rng(2).integers(0, 65535, (10, 7, channels), endpoint=True, dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "a.tif",
        arr if planar == "contig" else arr.transpose(2, 0, 1),
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=["unassalpha"] if channels in (2, 4) else None,
        compression=compression,
        predictor=predictor,
        planarconfig=planar,
        rowsperstrip=3,
    )
    np.testing.assert_array_equal(im.read_image(tmp_path / "a.tif"), arr)
    im.write_image(tmp_path / "b.tif", arr)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "b.tif"), arr)  # and ours reads elsewhere


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_colour_gets_the_exif_orientation_pillow_gives_8bit(tmp_path, orientation):
    from PIL import Image, ImageOps

    arr = np.arange(5 * 7 * 3, dtype=np.uint16).reshape(5, 7, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()[6:] if exif.tobytes()[:6] == b"Exif\x00\x00" else exif.tobytes()
    png = image16.encode_deep(arr, "PNG")
    at = png.index(b"IEND") - 4
    (tmp_path / "o.png").write_bytes(png[:at] + image16._png_chunk(b"eXIf", body) + png[at:])
    want = np.asarray(ImageOps.exif_transpose(_exif8(arr, exif)))
    np.testing.assert_array_equal(im.read_image(tmp_path / "o.png"), want.astype(np.uint16))


def _exif8(arr, exif):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG", exif=exif)
    return Image.open(buf)


def test_broken_16bit_colour_files_get_one_sentence(tmp_path):
    png = image16.encode_deep(picture("rgb", 16), "PNG")
    cases = {
        "crc.png": png[:40] + bytes([png[40] ^ 0xFF]) + png[41:],
        "short.png": png[: len(png) // 2],
        "bomb.png": png[:16] + struct.pack(">II", 100_000, 100_000) + png[24:],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=name) as e:
            im.read_image(tmp_path / name)
        assert "\n" not in str(e.value)
    assert "decompression bomb" in _error(lambda: im.read_image(tmp_path / "bomb.png"))


def _error(call) -> str:
    try:
        call()
    except ValueError as e:
        return str(e)
    raise AssertionError("no error")


# -- images: every way in keeps the bit depth ------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("layout,depth", CASES)
def test_bit_depth_is_kept(tmp_path, image_model, layout, depth, suffix):
    """README: 'an image keeps its size, bit depth and alpha' — through ``image denoise``,
    ``image add-noise`` and ``ImageDenoiser.denoise_file``, for gray and colour, 8 and 16 bit."""
    given = picture(layout, depth)
    src = im.write_image(tmp_path / f"in{suffix}", given)
    np.testing.assert_array_equal(im.read_image(src), given)

    out = tmp_path / f"denoised{suffix}"
    args = ["image", "denoise", str(src), "-o", str(out), "--model", image_model, "--sigma", "10", "--quiet"]
    assert main(args) == 0
    check_kept(im.read_image(out), given)

    noisy = tmp_path / f"noisy{suffix}"
    assert main(["image", "add-noise", str(src), "-o", str(noisy), "--sigma", "5", "--quiet"]) == 0
    check_kept(im.read_image(noisy), given)

    api = ImageDenoiser.from_pretrained(image_model).denoise_file(src, tmp_path / f"api{suffix}", sigma=10)
    check_kept(im.read_image(api), given)


@pytest.mark.parametrize("layout", ["rgb", "rgba", "gray+alpha"])
def test_compare_measures_16bit_colour_at_16_bits(tmp_path, capsys, layout):
    clean = picture(layout, 16)
    other = clean.copy()
    other[..., 0] = np.where(clean[..., 0] < 65535, clean[..., 0] + 1, clean[..., 0] - 1)  # off by one in 16 bits
    im.write_image(tmp_path / "clean.png", clean)
    im.write_image(tmp_path / "other.png", other)
    assert (
        main(
            [
                "image",
                "compare",
                str(tmp_path / "clean.png"),
                str(tmp_path / "other.png"),
                "-o",
                str(tmp_path / "g.png"),
            ]
        )
        == 0
    )
    colours = clean.shape[2] - (1 if layout != "rgb" else 0)
    want = 10 * np.log10(65535.0**2 * colours)  # MSE = 1 / colours on the 0-65535 scale
    assert f"PSNR {want:.2f} dB" in capsys.readouterr().out


# -- images: the server --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient
    from serve_models import shared_models

    from daekit.serve import Limits, create_app

    app = create_app(shared_models(), Limits(max_upload_mb=2, max_pixels=200 * 200, max_audio_seconds=3))
    with TestClient(app) as c:
        yield c


def post(client, url, name, data, ctype):
    return client.post(url, files={"file": (name, data, ctype)})


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("layout,depth", CASES)
def test_bit_depth_is_kept_by_the_server(tmp_path, client, layout, depth, suffix):
    given = picture(layout, depth)
    data = im.write_image(tmp_path / f"in{suffix}", given).read_bytes()
    r = post(client, "/v1/image/denoise?sigma=10", f"in{suffix}", data, "application/octet-stream")
    assert r.status_code == 200, r.text
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "out.png").write_bytes(r.content)
    check_kept(im.read_image(tmp_path / "out.png"), given)


def test_server_refuses_a_broken_16bit_colour_upload_in_one_sentence(client):
    png = image16.encode_deep(picture("rgb", 16), "PNG")
    r = post(client, "/v1/image/denoise", "t.png", png[: len(png) // 2], "image/png")
    assert r.status_code == 400 and "truncated" in r.json()["detail"]
    big = image16.encode_deep(np.zeros((300, 300, 3), np.uint16), "PNG")
    r = post(client, "/v1/image/denoise", "b.png", big, "image/png")
    assert r.status_code == 413 and "pixels" in r.json()["detail"]


# -- audio: one set of rules ----------------------------------------------------------------------


def wav_bytes(seconds=0.5, sr=8000, channels=1, subtype="PCM_16") -> bytes:
    wave = 0.1 * np.random.default_rng(0).standard_normal((int(seconds * sr), channels)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def patched(data: bytes, at: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    out[at : at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(out)


def data_chunk_size_at(data: bytes) -> int:
    return data.index(b"data") + 4


def flac_cut() -> bytes:
    buf = io.BytesIO()
    wave = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    sf.write(buf, wave, 8000, format="FLAC")
    return buf.getvalue()[: len(buf.getvalue()) * 6 // 10]


def _nan_wav() -> bytes:
    buf = io.BytesIO()
    wave = np.zeros(4000, np.float32)
    wave[100] = np.nan
    sf.write(buf, wave, 8000, format="WAV", subtype="FLOAT")
    return buf.getvalue()


BROKEN_AUDIO = {
    # name: (file bytes, words the sentence must hold)
    "1 Hz": (patched(wav_bytes(), 24, "<I", 1), "1 Hz"),
    "header longer than the data": (
        patched(wav_bytes(), data_chunk_size_at(wav_bytes()), "<I", 4 * len(wav_bytes())),
        "header lies",
    ),
    "truncated wav": (wav_bytes()[: len(wav_bytes()) // 2], "truncated"),
    "truncated flac": (flac_cut(), "truncated"),
    "no samples": (wav_bytes(seconds=0), "no samples"),
    "0 channels": (patched(wav_bytes(), 22, "<H", 0), "0 channels"),
    "no data chunk": (wav_bytes()[:30], "data"),
    "nan samples": (_nan_wav(), "NaN"),
}


def broken(tmp_path, case: str):
    data, words = BROKEN_AUDIO[case]
    suffix = ".flac" if "flac" in case else ".wav"
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(data)
    return path, words


def one_sentence(err: str, path, words: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("daekit: error:")]
    assert len(lines) == 1, err
    assert str(path) in lines[0] and words in lines[0], err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def speech_model(tmp_path_factory):
    torch.manual_seed(0)
    net = dk.create_model("speech_mask", n_fft=64, hop_length=16, hidden_size=8, num_layers=1)
    dae = dk.DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})
    return str(SpeechEnhancer(dae).save_pretrained(tmp_path_factory.mktemp("s") / "speech"))


@pytest.mark.parametrize("case", list(BROKEN_AUDIO))
def test_broken_recordings_are_refused_by_audio_denoise(tmp_path, capsys, speech_model, case):
    path, words = broken(tmp_path, case)
    out = tmp_path / ("out" + path.suffix)
    out.write_bytes(b"earlier result")
    code = main(["audio", "denoise", str(path), "-o", str(out), "--model", speech_model, "--always-enhance"])
    assert code != 0
    one_sentence(capsys.readouterr().err, path, words)
    assert out.read_bytes() == b"earlier result"  # nothing already written is lost
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("case", list(BROKEN_AUDIO))
def test_broken_recordings_are_refused_by_audio_stream(tmp_path, capsys, speech_model, case):
    path, words = broken(tmp_path, case)
    out = tmp_path / "out.wav"
    out.write_bytes(b"earlier result")
    assert main(["audio", "stream", str(path), "-o", str(out), "--model", speech_model, "--quiet"]) == 2
    one_sentence(capsys.readouterr().err, path, words)
    assert out.read_bytes() == b"earlier result"


@pytest.mark.parametrize("case", list(BROKEN_AUDIO))
def test_broken_recordings_are_refused_by_noise_estimate(tmp_path, capsys, case):
    path, words = broken(tmp_path, case)
    assert main(["noise", "estimate", str(path)]) == 2
    one_sentence(capsys.readouterr().err, path, words)


@pytest.mark.parametrize("case", list(BROKEN_AUDIO))
def test_broken_recordings_are_refused_by_the_python_api(tmp_path, speech_model, case):
    path, words = broken(tmp_path, case)
    for call in (
        lambda: load_audio(path),
        lambda: SpeechEnhancer.from_pretrained(speech_model).enhance_file(path, tmp_path / "o.wav"),
        lambda: dk.noise.estimate(load_audio(path)[0], kind="audio"),
    ):
        with pytest.raises(ValueError) as e:
            call()
        assert str(path) in str(e.value) and "\n" not in str(e.value)
        assert words in str(e.value)
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("case", list(BROKEN_AUDIO))
def test_broken_recordings_are_refused_by_the_server(client, case):
    data, words = BROKEN_AUDIO[case]
    r = post(client, "/v1/audio/denoise", "x.wav", data, "audio/wav")
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert words in detail and "\n" not in detail


def test_the_readers_still_take_good_recordings_at_the_edges_of_the_rules(tmp_path, speech_model):
    from daekit.checks import SAMPLE_RATE

    for rate in (SAMPLE_RATE.low, 44100, SAMPLE_RATE.high):
        path = save_audio(tmp_path / f"r{rate}.wav", np.zeros(int(rate) // 10, np.float32) + 0.01, int(rate))
        wave, sr = load_audio(path)
        assert sr == rate and wave.size == int(rate) // 10
    streaming = bytearray(wav_bytes())
    streaming[data_chunk_size_at(bytes(streaming)) : data_chunk_size_at(bytes(streaming)) + 4] = b"\xff" * 4
    (tmp_path / "live.wav").write_bytes(bytes(streaming))  # size unknown: written while recording
    assert load_audio(tmp_path / "live.wav")[0].size == 4000
    wave, _ = load_audio(save_audio(tmp_path / "many.wav", np.zeros((12, 800), np.float32), 8000), mono=False)
    assert wave.shape == (12, 800)  # more channels than the server takes is fine on disk


def test_the_server_adds_its_own_size_limits_on_top_of_the_shared_rules(client):
    r = post(client, "/v1/audio/denoise", "m.wav", wav_bytes(seconds=0.1, channels=12), "audio/wav")
    assert r.status_code == 400 and "this server takes 1 to 8" in r.json()["detail"]
    r = post(client, "/v1/audio/denoise", "h.wav", wav_bytes(seconds=0.01, sr=384_000), "audio/wav")
    assert r.status_code == 400 and "at most 192,000 Hz" in r.json()["detail"]
    r = post(client, "/v1/audio/denoise", "l.wav", wav_bytes(seconds=4), "audio/wav")
    assert r.status_code == 413 and "limit of 3 s" in r.json()["detail"]
