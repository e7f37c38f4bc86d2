import json

import pytest
import torch

import daekit as dk
from daekit.io import ModelFileError, read_model_folder


@pytest.fixture()
def saved(tmp_path):
    dae = dk.DenoisingAutoencoder(
        dk.create_model("mlp", in_features=8, hidden_sizes=[6, 2]),
        noise=dk.noise.Compose([dk.noise.Gaussian((0, 0.2)), dk.noise.Masking(0.1)]),
        loss="l1",
        sparsity=0.1,
        preprocessing={"standardize": {"mean": [0] * 8, "std": [1] * 8}},
    )
    path = dae.save_pretrained(tmp_path / "model")
    return dae, path


def test_folder_holds_json_and_safetensors_only(saved):
    dae, path = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["class"] == "DenoisingAutoencoder" and cfg["model"]["name"] == "mlp"
    assert cfg["daekit_version"] == dk.__version__
    assert cfg["noise"]["type"] == "Compose"
    assert cfg["preprocessing"]["standardize"]["mean"] == [0] * 8


def test_round_trip_keeps_everything(saved):
    dae, path = saved
    loaded = dk.DenoisingAutoencoder.from_pretrained(path)
    assert loaded.noise == dae.noise and loaded.loss == "l1" and loaded.sparsity == 0.1
    assert loaded.preprocessing == dae.preprocessing
    x = torch.rand(3, 8)
    assert torch.equal(loaded.denoise(x), dae.denoise(x))


def test_truncated_weights_are_refused(saved):
    _, path = saved
    w = path / "model.safetensors"
    w.write_bytes(w.read_bytes()[:50])
    with pytest.raises(ModelFileError, match="model.safetensors"):
        dk.DenoisingAutoencoder.from_pretrained(path)


def test_tampered_weights_are_refused(saved):
    _, path = saved
    w = path / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="hash"):
        dk.DenoisingAutoencoder.from_pretrained(path)


def test_weights_that_do_not_fit_the_config_are_refused(saved, tmp_path):
    _, path = saved
    other = dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=8, hidden_sizes=[5, 2]))
    other.save_pretrained(tmp_path / "other")
    (path / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    cfg = json.loads((path / "config.json").read_text())
    cfg.pop("weights_sha256")
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="do not fit"):
        dk.DenoisingAutoencoder.from_pretrained(path)


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda p: (p / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "config.json").write_text("[1, 2]"), "not a daekit model config"),
        (lambda p: (p / "config.json").unlink(), "no config.json"),
        (lambda p: (p / "model.safetensors").unlink(), "no model.safetensors"),
    ],
)
def test_damaged_folders_get_one_sentence(saved, damage, match):
    _, path = saved
    damage(path)
    with pytest.raises(ModelFileError, match=match):
        read_model_folder(path)


def test_unknown_model_name_is_refused(saved):
    _, path = saved
    cfg = json.loads((path / "config.json").read_text())
    cfg["model"]["name"] = "transformer9000"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="transformer9000"):
        dk.DenoisingAutoencoder.from_pretrained(path)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFileError, match="not a model folder"):
        dk.DenoisingAutoencoder.from_pretrained(tmp_path / "nothing")


def test_a_failed_save_leaves_the_old_files_whole(saved, monkeypatch):
    dae, path = saved
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("daekit.io.os.replace", boom)
    with pytest.raises(OSError):
        dae.save_pretrained(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


@pytest.mark.parametrize("name", ["mlp", "conv2d_unet", "conv1d"])
def test_onnx_export_of_a_dae_folder_matches_pytorch(tmp_path, name):
    pytest.importorskip("onnxruntime")
    from daekit.export import export_model_folder

    kwargs, _ = dk.models._MODELS[name].contract_example()
    dk.DenoisingAutoencoder(dk.create_model(name, **kwargs)).save_pretrained(tmp_path / "m")
    worst = export_model_folder(tmp_path / "m", tmp_path / "m.onnx")["max_abs_diff"]
    assert worst <= 1e-4


def test_bundled_models_are_listed_by_class(tmp_path, monkeypatch):
    import daekit.io as io

    dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=4, hidden_sizes=[2])).save_pretrained(tmp_path / "b")
    dk.ImageDenoiser(dk.create_model("image_unet", channels=(4, 8), blocks=1)).save_pretrained(tmp_path / "a")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    monkeypatch.setattr(io, "PRETRAINED_DIR", tmp_path)
    assert io.bundled_models(("ImageDenoiser",)) == {"a": tmp_path / "a"}
    assert list(io.bundled_models(("ImageDenoiser", "DenoisingAutoencoder"))) == ["a", "b"]  # sorted; broken skipped
    monkeypatch.setattr(io, "PRETRAINED_DIR", tmp_path / "absent")
    assert io.bundled_models(("ImageDenoiser",)) == {}
