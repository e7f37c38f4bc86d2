"""daekit serve through FastAPI's test client: every endpoint, every limit, hostile uploads."""

import io
import re
import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient
from serve_models import shared_models

from daekit.serve import Limits, create_app

LIMITS = Limits(
    max_upload_mb=1,
    max_pixels=300 * 300,
    max_audio_seconds=3,
    max_rows=500,
    max_concurrent=1,
    max_window_values=1_000_000,
)


@pytest.fixture(scope="module")
def folders():
    return shared_models()


@pytest.fixture(scope="module")
def app(folders):
    return create_app(folders, LIMITS)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def wav(wave, sr=8000, subtype="PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, np.float32).T, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def read_png(data):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def read_wav(data):
    import soundfile as sf

    y, sr = sf.read(io.BytesIO(data), always_2d=True)
    return y, sr


def post_file(client, url, name, data, ctype):
    return client.post(url, files={"file": (name, data, ctype)})


RNG = np.random.default_rng(0)
GRAY = (RNG.random((37, 53)) * 255).astype(np.uint8)
RGB = (RNG.random((40, 30, 3)) * 255).astype(np.uint8)
SPEECH = (RNG.standard_normal((2, 12000)) * 0.1).astype(np.float32)


# -- the happy paths ---------------------------------------------------------------------


def test_health_and_models(client):
    assert client.get("/healthz").json()["status"] == "ok"
    info = client.get("/v1/models").json()
    assert {m["name"]: m["kind"] for m in info["models"]} == {
        "gray": "image",
        "color": "image",
        "speech": "audio",
        "table": "anomaly",
    }
    assert set(info["endpoints"].values()) == {"ready"}
    assert info["limits"]["max_concurrent"] == 1


def test_image_denoise_keeps_size_and_mode_and_picks_model_by_colour(client):
    r = post_file(client, "/v1/image/denoise?sigma=25", "g.png", png(GRAY), "image/png")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.headers["x-daekit-model"] == "gray"
    out = read_png(r.content)
    assert out.shape == GRAY.shape and out.dtype == np.uint8
    r = post_file(client, "/v1/image/denoise", "c.png", png(RGB), "application/octet-stream")
    assert r.status_code == 200 and r.headers["x-daekit-model"] == "color"
    assert read_png(r.content).shape == RGB.shape
    r = post_file(client, "/v1/image/denoise?model=gray", "c.png", png(RGB), "image/png")
    assert r.status_code == 200 and r.headers["x-daekit-model"] == "gray"


def test_endpoints_return_exactly_what_the_apps_return(client, folders):
    from daekit import ImageDenoiser
    from daekit.apps.speech import SpeechEnhancer

    r = post_file(client, "/v1/image/denoise?sigma=20", "c.png", png(RGB), "image/png")
    want = ImageDenoiser.from_pretrained(folders["color"])(RGB, sigma=20)
    np.testing.assert_array_equal(read_png(r.content), want)
    r = post_file(client, "/v1/audio/denoise", "s.wav", wav(SPEECH, 16000, "FLOAT"), "audio/wav")
    want = SpeechEnhancer.from_pretrained(folders["speech"])(SPEECH, sample_rate=16000)
    got, _ = read_wav(r.content)
    assert np.abs(got.T - np.clip(want, -1, 1)).max() <= 1.0 / 32768 + 1e-7  # 16-bit output


def test_image_alpha_passes_through_and_jpeg_comes_back_as_png(client):
    rgba = np.dstack([RGB, np.full(RGB.shape[:2], 77, np.uint8)])
    r = post_file(client, "/v1/image/denoise", "a.png", png(rgba), "image/png")
    out = read_png(r.content)
    assert r.status_code == 200 and out.shape == rgba.shape and (out[..., 3] == 77).all()
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, format="JPEG")
    r = post_file(client, "/v1/image/denoise", "c.jpg", buf.getvalue(), "image/jpeg")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n" and read_png(r.content).shape == RGB.shape


def test_image_16bit_gray_stays_16bit(client):
    r = post_file(client, "/v1/image/denoise", "g16.png", png(GRAY.astype(np.uint16) * 257), "image/png")
    assert r.status_code == 200
    from PIL import Image

    assert Image.open(io.BytesIO(r.content)).mode.startswith("I")


def test_audio_denoise_keeps_rate_channels_and_length(client):
    r = post_file(client, "/v1/audio/denoise", "s.wav", wav(SPEECH, 16000), "audio/wav")
    assert r.status_code == 200, r.text
    y, sr = read_wav(r.content)
    assert sr == 16000 and y.shape == (SPEECH.shape[1], 2)
    assert float(r.headers["x-daekit-audio-seconds"]) == pytest.approx(0.75)


def test_audio_prefers_the_widest_band_then_an_offline_model_unless_one_is_named(folders, tmp_path):
    import torch

    from daekit import DenoisingAutoencoder
    from daekit.apps.speech import SpeechEnhancer
    from daekit.models.speech import SpectralMaskNet, to_bidirectional

    torch.manual_seed(0)
    net = to_bidirectional(SpectralMaskNet(n_fft=64, hop_length=16, hidden_size=16, num_layers=1))
    SpeechEnhancer(DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})).save_pretrained(tmp_path / "off")
    app = create_app({"speech": folders["speech"], "speech-offline": str(tmp_path / "off")}, LIMITS)
    with TestClient(app) as c:
        r = post_file(c, "/v1/audio/denoise", "s.wav", wav(SPEECH, 8000), "audio/wav")
        assert r.status_code == 200 and r.headers["x-daekit-model"] == "speech-offline"
        r = post_file(c, "/v1/audio/denoise?model=speech", "s.wav", wav(SPEECH, 8000), "audio/wav")
        assert r.status_code == 200 and r.headers["x-daekit-model"] == "speech"
    wide = SpectralMaskNet(n_fft=64, hop_length=16, hidden_size=16, num_layers=1)  # causal, at 16 kHz
    SpeechEnhancer(DenoisingAutoencoder(wide, preprocessing={"sample_rate": 16000})).save_pretrained(tmp_path / "w")
    three = {"speech": folders["speech"], "speech-offline": str(tmp_path / "off"), "wide": str(tmp_path / "w")}
    with TestClient(create_app(three, LIMITS)) as c:
        r = post_file(c, "/v1/audio/denoise", "s.wav", wav(SPEECH, 8000), "audio/wav")
        assert r.status_code == 200 and r.headers["x-daekit-model"] == "wide"


def test_colour_images_go_to_the_photo_model_when_loaded(folders):
    app = create_app({"gray": folders["gray"], "color": folders["color"], "photo": folders["color"]}, LIMITS)
    with TestClient(app) as c:
        r = post_file(c, "/v1/image/denoise", "c.png", png(RGB), "image/png")
        assert r.status_code == 200 and r.headers["x-daekit-model"] == "photo"
        r = post_file(c, "/v1/image/denoise", "g.png", png(GRAY), "image/png")
        assert r.status_code == 200 and r.headers["x-daekit-model"] == "gray"
        r = post_file(c, "/v1/image/denoise?model=color&strength=0", "c.png", png(RGB), "image/png")
        assert r.headers["x-daekit-model"] == "color" and np.array_equal(read_png(r.content), RGB)


def test_audio_flac_accepted(client):
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, SPEECH[0], 8000, format="FLAC")
    r = post_file(client, "/v1/audio/denoise", "s.flac", buf.getvalue(), "audio/flac")
    assert r.status_code == 200 and read_wav(r.content)[0].shape == (SPEECH.shape[1], 1)


def test_anomaly_json_csv_and_multipart_agree(client, folders):
    from daekit import DAEDetector

    X = RNG.normal(size=(50, 3))
    X[7] += 12.0
    want = DAEDetector.load(folders["table"]).decision_function(X)
    r = client.post("/v1/anomaly/score", json={"rows": X.tolist()})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["mode"] == "model" and res["model"] == "table" and res["n_rows"] == 50
    np.testing.assert_allclose(res["scores"], want, rtol=1e-5, atol=1e-6)
    assert res["flags"][7] == 1 and res["n_flagged"] == sum(res["flags"])
    csv = "time,a,b,c\n" + "".join(f"2024-01-01 00:{i:02d},{a},{b},{c}\n" for i, (a, b, c) in enumerate(X))
    r2 = client.post("/v1/anomaly/score", content=csv, headers={"content-type": "text/csv"})
    assert r2.status_code == 200 and r2.json()["index"][3] == "2024-01-01 00:03"
    np.testing.assert_allclose(r2.json()["scores"], want, rtol=1e-5, atol=1e-6)
    r3 = post_file(client, "/v1/anomaly/score", "t.csv", csv.encode(), "text/csv")
    np.testing.assert_allclose(r3.json()["scores"], want, rtol=1e-5, atol=1e-6)


def test_anomaly_fit_mode_flags_a_spike_in_a_series(client):
    t = np.arange(400)
    v = np.sin(t / 8.0)
    v[300] += 5.0
    csv = "value\n" + "\n".join(str(x) for x in v)
    r = client.post(
        "/v1/anomaly/score?fit=true&window=16&contamination=0.02", content=csv, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["mode"] == "fit" and res["n_rows"] == 400
    assert int(np.argmax(res["scores"])) in range(300 - 16, 301 + 16)


def test_page_docs_and_openapi_are_served_and_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/", "/page.js", "/page.css", "/docs", "/docs.js"):
        text = client.get(path).text
        external = [
            u for u in re.findall(r"https?://[^\s\"'<>)]+|[\"'(]//[\w.-]+", text) if u != "http://www.w3.org/2000/svg"
        ]
        assert not external, f"{path} refers to {external}"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/v1/models", "/v1/image/denoise", "/v1/audio/denoise", "/v1/anomaly/score"} <= set(paths)


# -- what is not loaded, unknown names, busy -----------------------------------------------


def test_endpoints_without_models_answer_503_with_a_reason():
    with TestClient(create_app({}, LIMITS)) as c:
        r = post_file(c, "/v1/image/denoise", "g.png", png(GRAY), "image/png")
        assert r.status_code == 503 and "no image model is loaded" in r.json()["detail"]
        r = post_file(c, "/v1/audio/denoise", "s.wav", wav(SPEECH[0]), "audio/wav")
        assert r.status_code == 503 and "--model NAME=DIR" in r.json()["detail"]
        r = c.post("/v1/anomaly/score", json={"rows": [[1.0], [2.0]]})
        assert r.status_code == 503 and "anomaly" in r.json()["detail"]
        assert c.get("/v1/models").json()["endpoints"]["image"].startswith("no model loaded")
        rows = np.random.default_rng(1).normal(size=(60, 2)).tolist()
        assert c.post("/v1/anomaly/score?fit=true", json=rows).status_code == 200


@pytest.mark.parametrize("name", ["nope", "../../../etc/passwd", "/tmp", "speech"])
def test_model_names_are_labels_not_paths(client, name):
    r = post_file(client, f"/v1/image/denoise?model={name}", "g.png", png(GRAY), "image/png")
    assert r.status_code == 404 and "loaded: gray, color" in r.json()["detail"]


def test_busy_server_answers_503_with_retry_after(client, app):
    with app.state.gate.slot():  # the one job slot is taken
        r = post_file(client, "/v1/image/denoise", "g.png", png(GRAY), "image/png")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "busy" in r.json()["detail"]
        assert client.get("/healthz").json()["jobs_running"] == 1
    assert post_file(client, "/v1/image/denoise", "g.png", png(GRAY), "image/png").status_code == 200


# -- hostile and broken uploads ------------------------------------------------------------


def png_header_only(width, height) -> bytes:
    """A PNG that claims ``width × height`` pixels but holds one tiny compressed row."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def lying_wav() -> bytes:
    data = bytearray(wav(SPEECH[0, :800]))
    i = data.find(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", 400_000_000)  # claims ~7 hours of samples, holds 0.1 s
    return bytes(data)


def wav_rate(rate) -> bytes:
    data = bytearray(wav(SPEECH[0, :4000]))
    data[24:28] = struct.pack("<I", rate)
    return bytes(data)


HOSTILE = [
    (
        "image bomb header",
        "/v1/image/denoise",
        "b.png",
        png_header_only(100_000, 100_000),
        "image/png",
        413,
        "decompression bomb",
    ),
    (
        "image over pixel limit",
        "/v1/image/denoise",
        "big.png",
        png(np.zeros((400, 400), np.uint8)),
        "image/png",
        413,
        "pixels",
    ),
    ("image truncated", "/v1/image/denoise", "t.png", png(RGB)[:300], "image/png", 400, "truncated"),
    ("image not an image", "/v1/image/denoise", "x.png", b"GIF89a" + bytes(200), "image/png", 415, "accepted"),
    ("image declared html", "/v1/image/denoise", "x.html", b"<html></html>", "text/html", 415, "text/html"),
    ("image empty", "/v1/image/denoise", "e.png", b"", "image/png", 400, "empty"),
    ("wav header lies about length", "/v1/audio/denoise", "l.wav", lying_wav(), "audio/wav", 400, "header lies"),
    ("wav too long", "/v1/audio/denoise", "long.wav", wav(np.zeros(8000 * 4)), "audio/wav", 413, "limit of 3 s"),
    ("wav claims 1 Hz", "/v1/audio/denoise", "r.wav", wav_rate(1), "audio/wav", 400, "Hz"),
    ("wav truncated header", "/v1/audio/denoise", "t.wav", wav(SPEECH[0])[:30], "audio/wav", 400, "data"),
    ("audio is a png", "/v1/audio/denoise", "p.wav", png(GRAY), "audio/wav", 415, "WAV, FLAC, OGG"),
    ("audio declared image", "/v1/audio/denoise", "p.png", wav(SPEECH[0]), "image/png", 415, "image/png"),
    ("table with words", "/v1/anomaly/score", "w.csv", b"a,b,c\n1,2,3\n4,five,6\n", "text/csv", 400, "not a number"),
    ("table with NaN", "/v1/anomaly/score", "n.csv", b"1,2,3\n4,nan,6\n", "text/csv", 400, "NaN"),
    ("table ragged", "/v1/anomaly/score", "r.csv", b"1,2,3\n4,5\n", "text/csv", 400, "row 2"),
    ("table too many rows", "/v1/anomaly/score", "m.csv", b"1,2,3\n" * 600, "text/csv", 413, "rows"),
    ("table wrong width", "/v1/anomaly/score", "w.csv", b"1,2\n3,4\n", "text/csv", 400, "fitted on 3"),
    ("table bad json", "/v1/anomaly/score", "j.json", b'{"rows": [[1,2,3],', "application/json", 400, "not valid JSON"),
    (
        "table json nested bomb",
        "/v1/anomaly/score",
        "d.json",
        b"[" * 200_000 + b"]" * 200_000,
        "application/json",
        400,
        "nested",
    ),
    (
        "table too wide",
        "/v1/anomaly/score",
        "w.csv",
        ",".join(["1"] * 2000).encode() + b"\n",
        "text/csv",
        413,
        "columns",
    ),
    ("table not utf-8", "/v1/anomaly/score", "b.csv", bytes(range(128, 256)), "text/csv", 400, "UTF-8"),
    (
        "upload too big",
        "/v1/image/denoise",
        "huge.png",
        b"\x89PNG" + bytes(1_100_000),
        "image/png",
        413,
        "over the limit",
    ),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_upload_gets_a_clear_4xx_and_the_server_keeps_serving(client, case):
    _, url, name, data, ctype, status, words = case
    r = post_file(client, url, name, data, ctype)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and words in detail and detail.endswith(".")
    assert client.get("/healthz").status_code == 200
    assert post_file(client, "/v1/image/denoise", "g.png", png(GRAY), "image/png").status_code == 200


def test_a_failing_model_is_a_500_sentence_and_the_server_keeps_serving(folders, caplog):
    app = create_app({"gray": folders["gray"]}, LIMITS)
    model = app.state.registry.models["gray"]

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    model.model, real = broken, model.model
    with TestClient(app, raise_server_exceptions=False) as c:
        r = post_file(c, "/v1/image/denoise", "g.png", png(GRAY), "image/png")
        assert r.status_code == 500 and "RuntimeError" in r.json()["detail"]
        assert "request POST /v1/image/denoise failed" in caplog.text
        model.model = real
        assert post_file(c, "/v1/image/denoise", "g.png", png(GRAY), "image/png").status_code == 200
        assert c.get("/healthz").json()["jobs_running"] == 0


@pytest.mark.parametrize(
    "shape,query,status,words",
    [
        ((2, 2), "?sigma=25", 200, None),
        ((2, 3, 3), "?sigma=25", 200, None),
        ((5, 5), "", 400, "noise estimation needs"),  # the app's own sentence: too small to estimate σ
        ((1, 40), "?sigma=25", 400, "at least 2×2"),
    ],
)
def test_tiny_images(client, shape, query, status, words):
    r = post_file(client, "/v1/image/denoise" + query, "t.png", png(np.full(shape, 128, np.uint8)), "image/png")
    assert r.status_code == status, r.text
    if words:
        assert words in r.json()["detail"]
    else:
        assert read_png(r.content).shape == shape


def test_oversized_streamed_body_is_refused_while_it_arrives(client):
    def chunks():
        for _ in range(20):
            yield bytes(100_000)

    r = client.post("/v1/anomaly/score", content=chunks(), headers={"content-type": "text/csv"})
    assert r.status_code == 413 and "limit of 1 MB" in r.json()["detail"]


def test_series_too_big_for_its_windows_is_413(client):
    csv = "value\n" + "1.0\n" * 400
    r = client.post("/v1/anomaly/score?fit=true&window=4000", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 413 and "windows of 4000" in r.json()["detail"]
    r = client.post("/v1/anomaly/score?fit=true&window=500", content=csv, headers={"content-type": "text/csv"})
    assert r.status_code == 400 and "500" in r.json()["detail"]  # fewer steps than one window


def test_bad_query_values_are_422(client):
    r = post_file(client, "/v1/image/denoise?sigma=-3", "g.png", png(GRAY), "image/png")
    assert r.status_code == 422 and r.json()["detail"].startswith("sigma: Input should be greater than")
    r = client.post("/v1/anomaly/score?fit=true&contamination=0.9", json=[[1.0]])
    assert r.status_code == 422 and "contamination" in r.json()["detail"]
    r = client.post("/v1/image/denoise", data={"nofile": "x"})
    assert r.status_code == 422 and r.json()["detail"] == "file: Field required."


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_concurrent"):
        Limits(max_concurrent=0)


def test_bundled_models_load_and_answer():
    from daekit.serve import shipped_models

    bundled = shipped_models()
    if not bundled:
        pytest.skip("no bundled model folders in src/daekit/pretrained yet")
    app = create_app(bundled, LIMITS)
    kinds = {m.kind for m in app.state.registry.models.values()}
    with TestClient(app) as c:
        if "image" in kinds:
            for arr in (GRAY, RGB):
                r = post_file(c, "/v1/image/denoise?sigma=25", "x.png", png(arr), "image/png")
                assert r.status_code == 200 and read_png(r.content).shape == arr.shape
        if "audio" in kinds:
            r = post_file(c, "/v1/audio/denoise", "s.wav", wav(SPEECH, 16000), "audio/wav")
            assert r.status_code == 200 and read_wav(r.content)[0].shape == SPEECH.T.shape


def test_speech_warm_up_runs_the_model(folders):
    """The start-up call must reach the network: the enhancer passes audio it measures as
    clean (silence included) through untouched, which would warm nothing."""
    from daekit.apps.speech import SpeechEnhancer
    from daekit.serve.registry import _warm_speech

    enhancer = SpeechEnhancer.from_pretrained(folders["speech"])
    calls = []
    for layer in enhancer.dae.model.modules():
        layer.register_forward_hook(lambda *args: calls.append(1))
    _warm_speech(enhancer)
    assert calls
