"""Tampered model folders are refused by every loader, in one sentence, with exit code 2.

The README promises it (``test_tampered_folder_is_refused``): each of daekit's ways in
(``info``, ``denoise``, ``export``, ``image denoise``, ``audio denoise``, ``anomaly
score``, ``features transform``, ``serve``) is given folders that were edited after
saving (the weights' hash recomputed where the weights changed, as a tamperer would) and
must refuse each before any output is written.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load, save

import daekit as dk
from daekit.cli import main
from daekit.io import ModelFileError, read_config, read_model_folder
from daekit.io_checks import config_numbers

# ---------------------------------------------------------------------------- folders


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One small, valid folder of each class, and inputs for each command."""
    pytest.importorskip("sklearn")
    from daekit.apps.speech import SpeechEnhancer

    root = tmp_path_factory.mktemp("pristine")
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    dk.DenoisingAutoencoder(
        dk.create_model("mlp", in_features=4, hidden_sizes=[3]),
        noise="gaussian:0.1",
        preprocessing={"standardize": {"mean": [0.0] * 4, "std": [1.0] * 4}},
    ).save_pretrained(root / "dae")
    net = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1)
    dk.ImageDenoiser(net, tile=64, overlap=8).save_pretrained(root / "image")
    net = dk.create_model("speech_mask", n_fft=64, hop_length=16, hidden_size=16, num_layers=1)
    SpeechEnhancer(dk.DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})).save_pretrained(root / "speech")
    dk.DAEDetector(n_estimators=1, epochs=1, random_state=0).fit(rng.normal(size=(200, 3))).save(root / "detector")
    dk.DAEFeatureExtractor(hidden_sizes=(4,), epochs=1, random_state=0).fit(rng.random((64, 16))).save(
        root / "features"
    )
    np.save(root / "x4.npy", rng.random((5, 4)).astype(np.float32))
    np.save(root / "x16.npy", rng.random((5, 16)))
    np.save(root / "table.npy", rng.normal(size=(10, 3)))
    return root


def image_file(root: Path) -> str:
    from PIL import Image

    path = root / "in.png"
    if not path.exists():
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 24), dtype=np.uint8)).save(path)
    return str(path)


def audio_file(root: Path) -> str:
    from daekit.data.audio import save_audio

    path = root / "in.wav"
    if not path.exists():
        save_audio(path, 0.1 * np.random.default_rng(0).standard_normal(1600).astype(np.float32), 8000)
    return str(path)


def _no_server(*args, **kwargs):
    raise AssertionError("the server started with a tampered model folder")


# Each way in: (the class of folder it loads, its argv given the folder, the inputs' folder
# and an output folder, the extras it needs).
LOADERS = {
    "denoise": ("dae", lambda d, r, o: ["denoise", d, str(r / "x4.npy"), "-o", str(o / "y.npy")], ()),
    "image denoise": (
        "image",
        lambda d, r, o: ["image", "denoise", image_file(r), "-o", str(o / "out.png"), "--model", d],
        ("PIL",),
    ),
    "audio denoise": (
        "speech",
        lambda d, r, o: ["audio", "denoise", audio_file(r), "-o", str(o / "out.wav"), "--model", d, "--quiet"],
        ("soundfile", "scipy"),
    ),
    "anomaly score": (
        "detector",
        lambda d, r, o: ["anomaly", "score", d, str(r / "table.npy"), "-o", str(o / "s.csv"), "--quiet"],
        (),
    ),
    "features transform": (
        "features",
        lambda d, r, o: ["features", "transform", d, str(r / "x16.npy"), "-o", str(o / "z.npy")],
        (),
    ),
    **{
        f"info {kind}": (kind, lambda d, r, o: ["info", d], ())
        for kind in ("dae", "image", "speech", "detector", "features")
    },
    **{
        f"export {kind}": (
            kind,
            lambda d, r, o: ["export", d, "--onnx", str(o / "m.onnx"), "--no-check"],
            ("onnx", "onnxruntime"),
        )
        for kind in ("dae", "image", "speech", "detector")
    },
    **{
        f"serve {kind}": (
            kind,
            lambda d, r, o: ["serve", "--no-bundled", "--quiet", "--model", f"m={d}"],
            ("fastapi", "uvicorn"),
        )
        for kind in ("image", "speech", "detector")
    },
}

# ---------------------------------------------------------------------------- tampering


def edit_config(folder: Path, change) -> None:
    cfg = json.loads((folder / "config.json").read_text())
    change(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def edit_weights(folder: Path, change) -> None:
    """Change the tensors and recompute the hash in config.json, as a tamperer would."""
    tensors = load((folder / "model.safetensors").read_bytes())
    change(tensors)
    blob = save(tensors)
    (folder / "model.safetensors").write_bytes(blob)
    edit_config(folder, lambda cfg: cfg.update(weights_sha256=hashlib.sha256(blob).hexdigest()))


def first_weight(tensors) -> str:
    """A network weight (not a detector's latent statistics)."""
    return next(n for n in sorted(tensors) if tensors[n].is_floating_point() and not n.startswith("latent"))


def fill(value):
    return lambda t: t[first_weight(t)].fill_(value)


def reshape(t):
    name = first_weight(t)
    t[name] = torch.zeros(t[name].shape[0] + 1, *t[name].shape[1:])


def model_kwargs(cfg):
    return (cfg["members"][0] if "members" in cfg else cfg)["model"]["kwargs"]


#: A config edit that changes the model's size, one per class (the DAE's standardising
#: statistics, one per feature, are the first to disagree with in_features 4 -> 9).
RESIZE = {
    "dae": (lambda c: model_kwargs(c).update(in_features=9), "has 4 values where the model takes 9"),
    "image": (lambda c: model_kwargs(c).update(channels=[8, 32]), "do not fit"),
    "speech": (lambda c: model_kwargs(c).update(hidden_size=32), "do not fit"),
    "detector": (lambda c: model_kwargs(c).update(in_features=5), "do not fit"),
    "features": (lambda c: model_kwargs(c).update(in_features=9), "do not fit"),
}
#: A config value out of its range (a scale that is divided by, a sample rate), per class.
BAD_VALUE = {
    "dae": (lambda c: c["preprocessing"]["standardize"].update(std=[0.0, 1.0, 1.0, 1.0]), "above 0"),
    "image": (lambda c: c["noise"].update(std_max=0), "above 0"),
    "speech": (lambda c: c["preprocessing"].update(sample_rate=-8000), "sample rate"),
    "detector": (lambda c: c["fitted"].update(scale_span=[[0.0, 0.0, 0.0]]), "above 0"),
    "features": (lambda c: c["fitted"].update(scale=[0.0] * 16), "above 0"),
}
#: A setting the class's own constructor refuses, or a fitted fact its model contradicts.
BAD_SETTING = {
    "dae": (lambda c: c.update(noise={"type": "os.system"}), "noise"),
    "image": (lambda c: c.update(tile=3), "tile"),
    "speech": (lambda c: c["speech"]["settings"].update(wet=5), "wet"),
    "detector": (lambda c: c["fitted"].update(n_features_in=5), "where the model takes 5"),
    "features": (lambda c: c["fitted"].update(code_shape=[99]), "codes"),
}
#: The folder of another class that each loader is given by mistake.
OTHER = {"dae": "image", "image": "detector", "speech": "dae", "detector": "features", "features": "dae"}

# name -> (tamper(folder, kind, pristine root), the words the sentence must hold for that kind)
TAMPERS = {
    "class os.system": (lambda f, k, r: edit_config(f, lambda c: c.update({"class": "os.system"})), "os.system"),
    "no class": (lambda f, k, r: edit_config(f, lambda c: c.pop("class")), "names no model 'class'"),
    "nan weight": (lambda f, k, r: edit_weights(f, fill(float("nan"))), "non-finite"),
    "inf weight": (lambda f, k, r: edit_weights(f, fill(float("inf"))), "non-finite"),
    "reshaped weight": (lambda f, k, r: edit_weights(f, reshape), "do not fit"),
    "extra tensor": (lambda f, k, r: edit_weights(f, lambda t: t.update({"stray.weight": torch.zeros(2)})), "stray"),
    "missing tensor": (lambda f, k, r: edit_weights(f, lambda t: t.pop(first_weight(t))), "lacks"),
    "config resized": (lambda f, k, r: edit_config(f, RESIZE[k][0]), None),
    "bad value": (lambda f, k, r: edit_config(f, BAD_VALUE[k][0]), None),
    "bad setting": (lambda f, k, r: edit_config(f, BAD_SETTING[k][0]), None),
    "wrong class": (lambda f, k, r: _replace(f, r / OTHER[k]), "use 'daekit"),
}


def _replace(folder: Path, other: Path) -> None:
    shutil.rmtree(folder)
    shutil.copytree(other, folder)


def expected_words(tamper: str, kind: str, loader: str) -> str:
    if tamper == "config resized":
        return RESIZE[kind][1]
    if tamper == "bad value":
        return BAD_VALUE[kind][1]
    if tamper == "bad setting":
        return BAD_SETTING[kind][1]
    if tamper == "wrong class" and loader.startswith("serve"):
        return "serve takes"
    return TAMPERS[tamper][1]


def cases():
    for loader, (kind, _, _) in LOADERS.items():
        for tamper in TAMPERS:
            # info and export take every class, and serve every class but a plain DAE
            wrong_class_is_fine = loader.startswith(("info", "export")) or (
                loader.startswith("serve") and OTHER[kind] != "dae"
            )
            if tamper == "wrong class" and wrong_class_is_fine:
                continue
            yield pytest.param(loader, tamper, id=f"{loader}-{tamper}")


def run_loader(loader, folder, root, out, monkeypatch, server=_no_server):
    kind, argv, extras = LOADERS[loader]
    for extra in extras:
        pytest.importorskip(extra)
    if loader.startswith("serve"):
        monkeypatch.setattr("uvicorn.run", server)
    return main(argv(str(folder), root, out))


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("loader", list(LOADERS))
def test_pristine_folder_is_accepted(loader, pristine, tmp_path, monkeypatch):
    """The control: every command works on the untouched folders, so a refusal below is
    the tampering's doing. (``info`` on an ImageDenoiser folder used to fail here.)"""
    kind = LOADERS[loader][0]
    assert run_loader(loader, pristine / kind, pristine, tmp_path, monkeypatch, server=lambda *a, **k: None) == 0


@pytest.mark.parametrize("loader,tamper", list(cases()))
def test_tampered_folder_is_refused(loader, tamper, pristine, tmp_path, monkeypatch, capsys):
    kind = LOADERS[loader][0]
    folder = tmp_path / "model"
    shutil.copytree(pristine / kind, folder)
    TAMPERS[tamper][0](folder, kind, pristine)
    out = tmp_path / "out"
    out.mkdir()
    assert run_loader(loader, folder, pristine, out, monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("daekit: error: ") and "\n" not in err and "Traceback" not in err, err
    assert expected_words(tamper, kind, loader) in err, err
    assert list(out.iterdir()) == []  # nothing was written


@pytest.mark.parametrize(
    "loader,words",
    [
        ("denoise", ["holds an ImageDenoiser", "use 'daekit image denoise", "daekit.ImageDenoiser.from_pretrained"]),
        ("image denoise", ["holds a DAEDetector, not an ImageDenoiser", "use 'daekit anomaly score'"]),
        ("audio denoise", ["holds a DenoisingAutoencoder, not a SpeechEnhancer", "use 'daekit denoise'"]),
        ("anomaly score", ["holds a DAEFeatureExtractor", "use 'daekit features transform'"]),
        ("features transform", ["holds a DenoisingAutoencoder", "daekit.DenoisingAutoencoder.from_pretrained"]),
    ],
)
def test_a_folder_of_another_class_names_the_command_that_loads_it(
    loader, words, pristine, tmp_path, monkeypatch, capsys
):
    kind = LOADERS[loader][0]
    assert run_loader(loader, pristine / OTHER[kind], pristine, tmp_path, monkeypatch) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err


@pytest.mark.parametrize(
    "load,kind",
    [
        (lambda p: dk.DenoisingAutoencoder.from_pretrained(p), "image"),
        (lambda p: dk.ImageDenoiser.from_pretrained(p), "speech"),
        (lambda p: dk.SpeechEnhancer.from_pretrained(p), "features"),
        (lambda p: dk.DAEDetector.load(p), "dae"),
        (lambda p: dk.DAEFeatureExtractor.load(p), "detector"),
    ],
)
def test_the_python_loaders_refuse_another_class(load, kind, pristine):
    with pytest.raises(ModelFileError, match="holds an? .*: use '"):
        load(pristine / kind)


def test_a_huge_model_in_the_config_is_refused_before_it_is_built(pristine, tmp_path, monkeypatch):
    shutil.copytree(pristine / "dae", tmp_path / "m")
    # 10**7 hidden units would be 320 MB of weights: the check on the meta device needs none.
    edit_config(tmp_path / "m", lambda c: model_kwargs(c).update(hidden_sizes=[10**7]))
    built = []
    real = dk.models.create_model

    def spy(name, **kwargs):
        model = real(name, **kwargs)
        built.append(next(model.parameters()).device.type)
        return model

    monkeypatch.setattr("daekit.io_checks.create_model", spy)
    with pytest.raises(ModelFileError, match="do not fit"):
        dk.DenoisingAutoencoder.from_pretrained(tmp_path / "m")
    assert built == ["meta"]


def test_detector_tensors_that_belong_to_no_member_are_refused(pristine, tmp_path):
    shutil.copytree(pristine / "detector", tmp_path / "m")
    edit_weights(tmp_path / "m", lambda t: t.update({"member7.encoder_layers.0.weight": torch.zeros(2, 2)}))
    with pytest.raises(ModelFileError, match="member7"):
        dk.DAEDetector.load(tmp_path / "m")


def test_an_older_speech_folder_saved_as_a_dae_still_loads(pristine, tmp_path):
    shutil.copytree(pristine / "speech", tmp_path / "m")
    edit_config(tmp_path / "m", lambda c: c.update({"class": "DenoisingAutoencoder"}))
    assert dk.SpeechEnhancer.from_pretrained(tmp_path / "m").sample_rate == 8000


def test_the_shipped_models_pass_every_check():
    from daekit.io import PRETRAINED_DIR

    folders = sorted(p for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())
    for folder in folders:
        assert main(["info", str(folder)]) == 0, folder


@pytest.mark.parametrize(
    "values,kwargs,ok",
    [
        ([1.0, 2.0], {"positive": True, "length": 2}, True),
        ([[1, 2], [3, 4]], {"length": 2}, True),
        ([1.0, 0.0], {"positive": True}, False),
        ([1.0, float("nan")], {}, False),
        ([True, False], {}, False),
        (["1.0"], {}, False),
        ([[1, 2], [3]], {}, False),
        ([], {}, False),
        (None, {}, False),
        ([1.0, 2.0, 3.0], {"length": 2}, False),
    ],
)
def test_config_numbers(values, kwargs, ok):
    if ok:
        assert config_numbers("m", "k", values, **kwargs).dtype == np.float64
    else:
        with pytest.raises(ModelFileError, match="'k' in config.json"):
            config_numbers("m", "k", values, **kwargs)


@pytest.mark.parametrize("cls", [["DenoisingAutoencoder"], {"a": 1}, "os.system", 7])
def test_read_config_refuses_a_class_daekit_does_not_write(pristine, tmp_path, cls):
    shutil.copytree(pristine / "dae", tmp_path / "m")
    edit_config(tmp_path / "m", lambda c: c.update({"class": cls}))
    with pytest.raises(ModelFileError, match="not a daekit model class"):
        read_config(tmp_path / "m")


def test_read_model_folder_refuses_non_finite_weights_even_with_a_matching_hash(pristine, tmp_path):
    shutil.copytree(pristine / "dae", tmp_path / "m")
    edit_weights(tmp_path / "m", fill(float("-inf")))
    with pytest.raises(ModelFileError, match="non-finite values .* in 'decoder"):
        read_model_folder(tmp_path / "m")
