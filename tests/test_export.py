"""ONNX export of every kind of model folder, checked with onnxruntime (max |diff| <= 1e-4)."""

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from serve_models import shared_models  # noqa: E402

from daekit import DAEDetector, DenoisingAutoencoder, ImageDenoiser, create_model  # noqa: E402
from daekit.cli import main  # noqa: E402
from daekit.export import DetectorGraph, SpeechGraph, export_model_folder  # noqa: E402
from daekit.serve.registry import shipped_models  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_models")
    out = shared_models()
    series = np.sin(np.arange(300) / 6.0)[:, None] * np.array([1.0, 0.5])
    DAEDetector(window=12, n_estimators=2, epochs=1, random_state=0).fit(series).save(root / "series_mlp")
    DAEDetector(window=12, model="conv1d", n_estimators=1, epochs=1, random_state=0).fit(series).save(
        root / "series_conv"
    )
    DenoisingAutoencoder(create_model("mlp", in_features=6, hidden_sizes=[8, 4]), noise="gaussian:0.1").save_pretrained(
        root / "mlp"
    )
    DenoisingAutoencoder(create_model("conv2d", in_channels=1, channels=[4, 8])).save_pretrained(root / "conv2d")
    ImageDenoiser.from_pretrained(out["gray"]).as_colour().save_pretrained(root / "opponent")
    out.update({k: str(root / k) for k in ("series_mlp", "series_conv", "mlp", "conv2d", "opponent")})
    return out


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    "name", ["gray", "color", "opponent", "speech", "table", "series_mlp", "series_conv", "mlp", "conv2d"]
)
def test_every_kind_exports_and_matches_pytorch(folders, tmp_path, name):
    info = export_model_folder(folders[name], tmp_path / "m.onnx")
    assert info["max_abs_diff"] <= 1e-4
    meta = {p.key: p.value for p in __import__("onnx").load(str(tmp_path / "m.onnx")).metadata_props}
    assert meta["daekit_class"] == info["class"]


def test_speech_graph_equals_the_enhancer_at_any_length(folders, tmp_path):
    from daekit.apps.speech import SpeechEnhancer

    enh = SpeechEnhancer.from_pretrained(folders["speech"], attenuation_limit_db=20, wet=0.8)
    graph = SpeechGraph(enh)
    s = None
    for n in (1, 63, 4000, 8000 + 17):
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
        want = enh(x)
        with torch.no_grad():
            got = graph(torch.from_numpy(x)[None, None])[0, 0].numpy()
        assert np.abs(got - want).max() <= 1e-5
    export_model_folder(folders["speech"], tmp_path / "s.onnx")
    s = session(tmp_path / "s.onnx")
    for n, batch in ((777, 1), (12345, 3)):
        x = np.random.default_rng(n).standard_normal((batch, 1, n)).astype(np.float32) * 0.1
        got = s.run(None, {"wave": x})[0]
        assert got.shape == x.shape
        want = SpeechEnhancer.from_pretrained(folders["speech"])(x[:, 0])
        assert np.abs(got[:, 0] - want).max() <= 1e-4


@pytest.mark.parametrize("name", ["color", "opponent"])
def test_image_onnx_matches_the_network_at_other_sizes(folders, tmp_path, name):
    den = ImageDenoiser.from_pretrained(folders[name])
    export_model_folder(folders[name], tmp_path / "c.onnx")
    x = np.random.default_rng(0).random((2, 3, 45, 61), dtype=np.float32)
    sigma = np.array([10 / 255, 40 / 255], np.float32)
    got = session(tmp_path / "c.onnx").run(None, {"x_noisy": x, "sigma": sigma})[0]
    with torch.no_grad():
        want = den.model(torch.from_numpy(x), sigma=torch.from_numpy(sigma)).numpy()
    assert got.shape == x.shape and np.abs(got - want).max() <= 1e-4


@pytest.mark.parametrize("latent_weight", [0.0, 1.0])
def test_detector_onnx_scores_equal_decision_function(folders, tmp_path, latent_weight):
    X = np.random.default_rng(3).normal(size=(31, 3)).astype(np.float32)
    if latent_weight:
        train = np.random.default_rng(4).normal(size=(200, 3))
        DAEDetector(n_estimators=2, epochs=2, latent_weight=latent_weight, random_state=0).fit(train).save(
            tmp_path / "lat"
        )
        folder = tmp_path / "lat"
    else:
        folder = folders["table"]
    det = DAEDetector.load(folder)
    export_model_folder(folder, tmp_path / "d.onnx")
    score, errors = session(tmp_path / "d.onnx").run(None, {"x": X})
    np.testing.assert_allclose(score, det.decision_function(X.astype(np.float64)), rtol=1e-4, atol=1e-5)
    assert errors.shape == X.shape


def test_series_detector_graph_folds_to_the_same_step_scores(folders):
    from daekit.apps.anomaly_windows import fold_to_steps, make_windows, window_starts

    det = DAEDetector.load(folders["series_mlp"])
    series = np.cos(np.arange(80) / 5.0)[:, None] * np.array([1.0, 0.5])
    windows, _ = make_windows(series, det.window, 1)
    with torch.no_grad():
        errors = DetectorGraph(det)(torch.from_numpy(windows.astype(np.float32))).double().numpy()
    steps = fold_to_steps(errors, window_starts(len(series), det.window, 1), len(series)).mean(axis=1)
    np.testing.assert_allclose(steps, det.decision_function(series), rtol=1e-4, atol=1e-6)


def test_cli_export_of_an_app_folder(folders, tmp_path, capsys):
    assert main(["export", folders["speech"], "--onnx", str(tmp_path / "s.onnx")]) == 0
    assert "SpeechEnhancer: wave -> enhanced" in capsys.readouterr().out


def test_cli_export_refuses_an_unknown_class(tmp_path, capsys):
    from daekit.io import write_model_folder

    write_model_folder(tmp_path / "odd", {"class": "Mystery"}, {"w": torch.zeros(1)})
    assert main(["export", str(tmp_path / "odd"), "--onnx", str(tmp_path / "o.onnx")]) == 2
    assert "Mystery" in capsys.readouterr().err and not (tmp_path / "o.onnx").exists()


SHIPPED = shipped_models()


@pytest.mark.parametrize(
    "name",
    sorted(SHIPPED)
    or [pytest.param("none", marks=pytest.mark.skip(reason="no bundled model folders in src/daekit/pretrained yet"))],
)
def test_every_shipped_model_exports(name, tmp_path):
    info = export_model_folder(SHIPPED[name], tmp_path / f"{name}.onnx")
    assert info["max_abs_diff"] <= 1e-4
