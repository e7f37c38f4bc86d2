"""The hostile-input corpus: every command group and every endpoint, fed what a careless
or hostile user would feed them.

Each CLI case must end with a non-zero exit, no traceback, one sentence (one line) that
names the file or option at fault and no temporary-file name, and must leave every file
that existed before it byte-identical (the whole workspace is hashed before and after).
Each server case must get a 4xx whose ``detail`` is one sentence, and the server must
keep serving. All inputs are generated here; nothing is shipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from daekit.cli import main

# -- the workspace: good files, bad files, model folders, tampered folders ------------------


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _wav(samples: np.ndarray, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _wav_claiming_more_data(samples: np.ndarray) -> bytes:
    data = bytearray(_wav(samples))
    i = data.find(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", 400_000_000)  # claims hours, holds a fraction of a second
    return bytes(data)


def _wav_at_rate(samples: np.ndarray, rate: int) -> bytes:
    data = bytearray(_wav(samples))
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * 2)
    return bytes(data)


def _retamper(folder: Path, edit_config=None, edit_tensors=None) -> None:
    """Change a model folder and recompute its weights hash, as a careful attacker would."""
    from safetensors.torch import load, save

    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    config = json.loads(cfg_path.read_text())
    if edit_tensors:
        tensors = load(w_path.read_bytes())
        edit_tensors(tensors)
        blob = save(tensors)
        w_path.write_bytes(blob)
        config["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    if edit_config:
        edit_config(config)
    cfg_path.write_text(json.dumps(config))


def _first_float_tensor(tensors: dict) -> str:
    return next(k for k, v in tensors.items() if v.is_floating_point())


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    from serve_models import make_models

    import daekit as dk

    w = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4)).astype(np.float32)
    np.save(w / "good.npy", x)
    np.savetxt(w / "good.csv", x, delimiter=",", header="a,b,c,d", comments="")
    np.save(w / "wide.npy", rng.normal(size=(80, 9)).astype(np.float32))
    series = np.sin(np.arange(400) / 5.0)
    (w / "series.csv").write_text("value\n" + "".join(f"{v:.4f}\n" for v in series))

    # model folders of every kind (untrained: these tests are about refusals, not quality)
    torch.manual_seed(0)
    dae = dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=4, hidden_sizes=[8, 2]), noise="gaussian:0.1")
    dae.save_pretrained(w / "arrays_model")
    for name, folder in make_models(w / "models").items():
        shutil.move(folder, w / f"{name}_model")
    shutil.rmtree(w / "models")
    feats = dk.DAEFeatureExtractor(hidden_sizes=[3], epochs=1, batch_size=16, random_state=0).fit(x)
    feats.save(w / "features_model")

    gray = (rng.random((32, 32)) * 255).astype(np.uint8)
    (w / "gray.png").write_bytes(_png(gray))
    (w / "rgb.png").write_bytes(_png(np.stack([gray] * 3, -1)))
    speech = 0.3 * np.sin(2 * np.pi * 220 * np.arange(4000) / 8000)
    (w / "speech.wav").write_bytes(_wav(speech))

    # damaged and misnamed files
    (w / "empty.npy").write_bytes(b"")
    (w / "garbage.npy").write_bytes(bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    (w / "truncated.npy").write_bytes((w / "good.npy").read_bytes()[:200])
    np.save(w / "nan.npy", np.where(rng.random((80, 4)) < 0.05, np.nan, x).astype(np.float32))
    np.savez(w / "multi.npz", A=x, B=x[:, :2])  # no X: the reader must be told which
    (w / "png.csv").write_bytes((w / "gray.png").read_bytes())
    (w / "header_only.csv").write_text("a,b,c,d\n")
    (w / "text.csv").write_text("a,b,c,d\n1,2,3,4\n5,six,7,8\n")
    (w / "ragged.csv").write_text("1,2,3,4\n5,6\n")
    (w / "latin1.csv").write_bytes("a,b\n1,é\n".encode("latin-1"))
    (w / "empty.csv").write_bytes(b"")
    (w / "wav.png").write_bytes((w / "speech.wav").read_bytes())
    (w / "truncated.png").write_bytes((w / "gray.png").read_bytes()[:120])
    (w / "empty.png").write_bytes(b"")
    (w / "text.png").write_text("not an image at all\n")
    (w / "one_hz.wav").write_bytes(_wav_at_rate(speech, 1))
    (w / "lying.wav").write_bytes(_wav_claiming_more_data(speech[:800]))
    (w / "truncated.wav").write_bytes((w / "speech.wav").read_bytes()[:30])
    (w / "empty.wav").write_bytes(b"")
    (w / "png.wav").write_bytes((w / "gray.png").read_bytes())
    (w / "folder.npy").mkdir()
    (w / "folder.png").mkdir()
    (w / "folder.wav").mkdir()
    (w / "blocker").write_text("a regular file where a folder is expected\n")
    (w / "empty_dir").mkdir()
    (w / "existing.npy").write_bytes(b"an output from an earlier run\n")

    # tampered model folders
    def copy(src: str, dst: str) -> Path:
        shutil.copytree(w / src, w / dst)
        return w / dst

    _retamper(copy("arrays_model", "class_os_system"), edit_config=lambda c: c.update({"class": "os.system"}))
    _retamper(
        copy("arrays_model", "shape_changed"), edit_config=lambda c: c["model"]["kwargs"].update({"in_features": 9})
    )

    def nan_weights(tensors):
        tensors[_first_float_tensor(tensors)].fill_(float("nan"))

    _retamper(copy("arrays_model", "nan_weights"), edit_tensors=nan_weights)
    _retamper(copy("gray_model", "image_nan_weights"), edit_tensors=nan_weights)
    _retamper(copy("speech_model", "speech_nan_weights"), edit_tensors=nan_weights)

    def extra_tensor(tensors):
        tensors["injected.weight"] = torch.zeros(3)

    _retamper(copy("arrays_model", "extra_tensor"), edit_tensors=extra_tensor)
    _retamper(copy("table_model", "detector_class_changed"), edit_config=lambda c: c.update({"class": "builtins.eval"}))
    (w / "no_config").mkdir()
    (w / "no_config" / "model.safetensors").write_bytes(b"")
    copy("arrays_model", "bad_json")
    (w / "bad_json" / "config.json").write_text("{not json")
    return w


# -- the CLI cases -------------------------------------------------------------------------

# (id, argv with {w} for the workspace, text the sentence must contain: the file or option)
CLI_CASES = [
    # core: info / train / denoise / export
    ("info missing folder", ["info", "{w}/nowhere"], "nowhere"),
    ("info a file", ["info", "{w}/good.npy"], "good.npy"),
    ("info no config", ["info", "{w}/no_config"], "no_config"),
    ("info bad json", ["info", "{w}/bad_json"], "bad_json"),
    ("info class os.system", ["info", "{w}/class_os_system"], "os.system"),
    ("info shapes changed", ["info", "{w}/shape_changed"], "shape_changed"),
    ("info nan weights", ["info", "{w}/nan_weights"], "nan_weights"),
    ("train empty npy", ["train", "{w}/empty.npy", "--out", "{w}/run"], "the file is empty"),
    ("train garbage npy", ["train", "{w}/garbage.npy", "--out", "{w}/run"], "garbage.npy"),
    ("train truncated npy", ["train", "{w}/truncated.npy", "--out", "{w}/run"], "truncated or corrupt"),
    ("train nan npy", ["train", "{w}/nan.npy", "--out", "{w}/run"], "nan.npy"),
    ("train multi npz", ["train", "{w}/multi.npz", "--out", "{w}/run"], "--key"),
    ("train npz wrong key", ["train", "{w}/multi.npz", "--key", "Z", "--out", "{w}/run"], "Z"),
    ("train png as csv", ["train", "{w}/png.csv", "--out", "{w}/run"], "holds a PNG image"),
    ("train header only", ["train", "{w}/header_only.csv", "--out", "{w}/run"], "no data rows"),
    ("train text cells", ["train", "{w}/text.csv", "--out", "{w}/run"], "text.csv"),
    ("train ragged", ["train", "{w}/ragged.csv", "--out", "{w}/run"], "ragged.csv"),
    ("train not utf-8", ["train", "{w}/latin1.csv", "--out", "{w}/run"], "is not UTF-8"),
    ("train a folder", ["train", "{w}/folder.npy", "--out", "{w}/run"], "folder.npy: is a folder, not a file"),
    ("train missing", ["train", "{w}/nowhere.npy", "--out", "{w}/run"], "nowhere.npy"),
    ("train out under a file", ["train", "{w}/good.npy", "--out", "{w}/blocker/run", "--steps", "2"], "blocker"),
    ("train out is a file", ["train", "{w}/good.npy", "--out", "{w}/blocker", "--steps", "2"], "blocker"),
    ("train grad clip negative", ["train", "{w}/good.npy", "--out", "{w}/run", "--grad-clip", "-1"], "--grad-clip"),
    ("train device tpu", ["train", "{w}/good.npy", "--out", "{w}/run", "--device", "tpu"], "--device"),
    ("train bad noise", ["train", "{w}/good.npy", "--out", "{w}/run", "--noise", "gaussian:0.1+"], "--noise"),
    ("train unknown noise", ["train", "{w}/good.npy", "--out", "{w}/run", "--noise", "purple:1"], "purple"),
    ("denoise class os.system", ["denoise", "{w}/class_os_system", "{w}/good.npy", "-o", "{w}/o.npy"], "os.system"),
    ("denoise shapes changed", ["denoise", "{w}/shape_changed", "{w}/good.npy", "-o", "{w}/o.npy"], "shape_changed"),
    ("denoise nan weights", ["denoise", "{w}/nan_weights", "{w}/good.npy", "-o", "{w}/existing.npy"], "nan_weights"),
    ("denoise extra tensor", ["denoise", "{w}/extra_tensor", "{w}/good.npy", "-o", "{w}/o.npy"], "extra_tensor"),
    ("denoise image model", ["denoise", "{w}/gray_model", "{w}/good.npy", "-o", "{w}/o.npy"], "image denoise"),
    ("denoise detector", ["denoise", "{w}/table_model", "{w}/good.npy", "-o", "{w}/o.npy"], "anomaly score"),
    ("denoise wrong width", ["denoise", "{w}/arrays_model", "{w}/wide.npy", "-o", "{w}/existing.npy"], "wide.npy"),
    (
        "denoise batch size 0",
        ["denoise", "{w}/arrays_model", "{w}/good.npy", "-o", "{w}/o.npy", "--batch-size", "0"],
        "--batch-size",
    ),
    ("denoise out under a file", ["denoise", "{w}/arrays_model", "{w}/good.npy", "-o", "{w}/blocker/o.npy"], "blocker"),
    ("denoise out is a folder", ["denoise", "{w}/arrays_model", "{w}/good.npy", "-o", "{w}/empty_dir"], "empty_dir"),
    ("denoise unknown suffix", ["denoise", "{w}/arrays_model", "{w}/good.npy", "-o", "{w}/o.xyz"], "o.xyz"),
    ("export under a file", ["export", "{w}/arrays_model", "--onnx", "{w}/blocker/m.onnx"], "blocker"),
    ("export tampered", ["export", "{w}/class_os_system", "--onnx", "{w}/m.onnx"], "os.system"),
    ("demo out under a file", ["demo", "--out", "{w}/blocker/demo", "--steps", "2", "--quiet"], "blocker"),
    # image
    ("image denoise truncated", ["image", "denoise", "{w}/truncated.png", "-o", "{w}/o.png"], "truncated.png"),
    ("image denoise empty", ["image", "denoise", "{w}/empty.png", "-o", "{w}/o.png"], "empty.png"),
    ("image denoise a wav", ["image", "denoise", "{w}/wav.png", "-o", "{w}/o.png"], "wav.png"),
    ("image denoise text", ["image", "denoise", "{w}/text.png", "-o", "{w}/o.png"], "text.png"),
    ("image denoise sigma nan", ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--sigma", "nan"], "--sigma"),
    ("image denoise sigma -30", ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--sigma", "-30"], "--sigma"),
    ("image denoise sigma 1e9", ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--sigma", "1e9"], "--sigma"),
    (
        "image denoise strength 2",
        ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--strength", "2"],
        "--strength",
    ),
    ("image denoise tile 0", ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--tile", "0"], "--tile"),
    (
        "image denoise overlap too big",
        ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--tile", "32", "--overlap", "16"],
        "overlap",
    ),
    (
        "image denoise nan weights",
        ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--model", "{w}/image_nan_weights"],
        "image_nan_weights",
    ),
    (
        "image denoise array model",
        ["image", "denoise", "{w}/gray.png", "-o", "{w}/o.png", "--model", "{w}/arrays_model"],
        "arrays_model",
    ),
    ("image denoise out under a file", ["image", "denoise", "{w}/gray.png", "-o", "{w}/blocker/o.png"], "blocker"),
    (
        "image add-noise sigma nan",
        ["image", "add-noise", "{w}/gray.png", "-o", "{w}/o.png", "--sigma", "nan"],
        "--sigma",
    ),
    (
        "image add-noise sigma inf",
        ["image", "add-noise", "{w}/gray.png", "-o", "{w}/o.png", "--sigma", "inf"],
        "--sigma",
    ),
    (
        "image add-noise missing",
        ["image", "add-noise", "{w}/nowhere.png", "-o", "{w}/o.png", "--sigma", "5"],
        "nowhere.png",
    ),
    (
        "image compare under a file",
        ["image", "compare", "{w}/gray.png", "{w}/gray.png", "-o", "{w}/blocker/g.png"],
        "blocker",
    ),
    (
        "image compare truncated",
        ["image", "compare", "{w}/gray.png", "{w}/truncated.png", "-o", "{w}/g.png"],
        "truncated.png",
    ),
    ("image train empty folder", ["image", "train", "{w}/empty_dir", "--out", "{w}/run"], "no image files"),
    ("image train patch 0", ["image", "train", "{w}/empty_dir", "--out", "{w}/run", "--patch", "0"], "--patch"),
    ("image train patch -4", ["image", "train", "{w}/empty_dir", "--out", "{w}/run", "--patch", "-4"], "--patch"),
    (
        "image train std max -10",
        ["image", "train", "{w}/empty_dir", "--out", "{w}/run", "--std-max", "-10"],
        "--std-max",
    ),
    ("image demo sigma nan", ["image", "demo", "--out", "{w}/run", "--sigma", "nan"], "--sigma"),
    # noise
    ("noise estimate truncated wav", ["noise", "estimate", "{w}/truncated.wav"], "truncated.wav"),
    ("noise estimate lying wav", ["noise", "estimate", "{w}/lying.wav"], "lying.wav"),
    ("noise estimate 1 Hz wav", ["noise", "estimate", "{w}/one_hz.wav"], "one_hz.wav"),
    ("noise estimate garbage", ["noise", "estimate", "{w}/garbage.npy"], "garbage.npy"),
    ("noise estimate folder", ["noise", "estimate", "{w}/folder.png"], "folder.png: is a folder"),
    ("noise select trials 0", ["noise", "select", "{w}/good.npy", "--task", "denoise", "--trials", "0"], "--trials"),
    (
        "noise select plot under a file",
        [
            "noise",
            "select",
            "{w}/good.npy",
            "--task",
            "denoise",
            "--budget",
            "1s",
            "--steps",
            "2",
            "--plot",
            "{w}/blocker/p.png",
        ],
        "blocker",
    ),
    ("noise select bad budget", ["noise", "select", "{w}/good.npy", "--task", "denoise", "--budget", "soon"], "soon"),
    # anomaly
    ("anomaly fit text cells", ["anomaly", "fit", "{w}/text.csv", "--out", "{w}/run"], "text.csv"),
    ("anomaly fit empty", ["anomaly", "fit", "{w}/empty.csv", "--out", "{w}/run"], "empty.csv"),
    (
        "anomaly fit contamination 0.9",
        ["anomaly", "fit", "{w}/good.csv", "--out", "{w}/run", "--contamination", "0.9"],
        "--contamination",
    ),
    ("anomaly fit window 1", ["anomaly", "fit", "{w}/series.csv", "--out", "{w}/run", "--window", "1"], "--window"),
    (
        "anomaly fit out under a file",
        ["anomaly", "fit", "{w}/good.csv", "--out", "{w}/blocker/m", "--members", "1", "--epochs", "1", "--quiet"],
        "blocker",
    ),
    (
        "anomaly score threshold nan",
        ["anomaly", "score", "{w}/table_model", "{w}/good.csv", "-o", "{w}/s.csv", "--threshold", "nan"],
        "--threshold",
    ),
    (
        "anomaly score tampered class",
        ["anomaly", "score", "{w}/detector_class_changed", "{w}/good.csv", "-o", "{w}/s.csv"],
        "builtins.eval",
    ),
    (
        "anomaly score array model",
        ["anomaly", "score", "{w}/arrays_model", "{w}/good.csv", "-o", "{w}/s.csv"],
        "arrays_model",
    ),
    (
        "anomaly score wrong width",
        ["anomaly", "score", "{w}/table_model", "{w}/wide.npy", "-o", "{w}/s.csv"],
        "wide.npy",
    ),
    (
        "anomaly score out under a file",
        ["anomaly", "score", "{w}/table_model", "{w}/good.npy", "-o", "{w}/blocker/s.csv"],
        "blocker",
    ),
    (
        "anomaly stream threshold 2",
        ["anomaly", "stream", "{w}/series.csv", "-o", "{w}/s.csv", "--threshold", "2"],
        "--threshold",
    ),
    (
        "anomaly stream quiet -1",
        ["anomaly", "stream", "{w}/series.csv", "-o", "{w}/s.csv", "--quiet-steps", "-1"],
        "--quiet-steps",
    ),
    ("anomaly stream ragged", ["anomaly", "stream", "{w}/ragged.csv", "-o", "{w}/s.csv"], "ragged.csv"),
    # audio
    (
        "audio denoise 1 Hz wav",
        ["audio", "denoise", "{w}/one_hz.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "one_hz.wav",
    ),
    (
        "audio denoise lying wav",
        ["audio", "denoise", "{w}/lying.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "lying.wav",
    ),
    (
        "audio denoise truncated wav",
        ["audio", "denoise", "{w}/truncated.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "truncated.wav",
    ),
    (
        "audio denoise empty wav",
        ["audio", "denoise", "{w}/empty.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "empty.wav: the file is empty",
    ),
    (
        "audio denoise png",
        ["audio", "denoise", "{w}/png.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "holds a PNG image",
    ),
    (
        "audio denoise nan weights",
        ["audio", "denoise", "{w}/speech.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_nan_weights"],
        "speech_nan_weights",
    ),
    (
        "audio denoise image model",
        ["audio", "denoise", "{w}/speech.wav", "-o", "{w}/o.wav", "--model", "{w}/gray_model"],
        "gray_model",
    ),
    ("audio denoise wet 2", ["audio", "denoise", "{w}/speech.wav", "-o", "{w}/o.wav", "--wet", "2"], "--wet"),
    (
        "audio stream 1 Hz wav",
        ["audio", "stream", "{w}/one_hz.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "one_hz.wav",
    ),
    (
        "audio stream lying wav",
        ["audio", "stream", "{w}/lying.wav", "-o", "{w}/o.wav", "--model", "{w}/speech_model"],
        "lying.wav",
    ),
    (
        "audio stream out under a file",
        ["audio", "stream", "{w}/speech.wav", "-o", "{w}/blocker/o.wav", "--model", "{w}/speech_model"],
        "blocker",
    ),
    ("audio stream chunk 0", ["audio", "stream", "{w}/speech.wav", "-o", "{w}/o.wav", "--chunk-ms", "0"], "--chunk-ms"),
    (
        "audio train seconds 0",
        ["audio", "train", "--clean", "{w}/speech.wav", "--out", "{w}/run", "--seconds", "0"],
        "--seconds",
    ),
    (
        "audio train noise span reversed",
        ["audio", "train", "--clean", "{w}/speech.wav", "--out", "{w}/run", "--noise-span", "0.7", "0"],
        "--noise-span",
    ),
    ("audio train clean missing", ["audio", "train", "--clean", "{w}/nowhere", "--out", "{w}/run"], "nowhere"),
    # features
    ("features fit text", ["features", "fit", "{w}/text.csv", "--out", "{w}/run"], "text.csv"),
    ("features fit epochs 0", ["features", "fit", "{w}/good.npy", "--out", "{w}/run", "--epochs", "0"], "--epochs"),
    (
        "features transform wrong width",
        ["features", "transform", "{w}/features_model", "{w}/wide.npy", "-o", "{w}/z.npy"],
        "wide.npy",
    ),
    (
        "features transform array model",
        ["features", "transform", "{w}/arrays_model", "{w}/good.npy", "-o", "{w}/z.npy"],
        "arrays_model",
    ),
    (
        "features transform under a file",
        ["features", "transform", "{w}/features_model", "{w}/good.npy", "-o", "{w}/blocker/z.npy"],
        "blocker",
    ),
    (
        "features filters count 0",
        ["features", "filters", "{w}/features_model", "-o", "{w}/f.png", "--count", "0"],
        "--count",
    ),
    (
        "features map labels missing",
        ["features", "map", "{w}/features_model", "{w}/good.npy", "--labels", "{w}/nowhere.npy", "-o", "{w}/m.png"],
        "nowhere.npy",
    ),
    # serve (refused before it listens)
    ("serve port too big", ["serve", "--port", "70000"], "--port"),
    ("serve bad model folder", ["serve", "--no-bundled", "--model", "x={w}/class_os_system"], "os.system"),
]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_in_one_sentence_and_keeps_what_was_written(ws, case, capsys):
    _, argv, names = case
    before = _snapshot(ws)
    code = main([a.replace("{w}", str(ws)) for a in argv])
    err = capsys.readouterr().err
    assert code != 0, err
    assert "Traceback" not in err and ".tmp" not in err, err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, err  # one sentence, on one line
    assert names in errors[0], err
    assert _snapshot(ws) == before, "a refused command changed or added files"


def test_the_corpus_covers_every_command():
    from test_cli_options import _commands

    leaves = {" ".join(p) for p, parser in _commands() if p and not parser._subparsers}
    covered = {" ".join(a for a in argv[:2] if not a.startswith(("{", "-"))) for _, argv, _ in CLI_CASES}
    covered |= {argv[0] for _, argv, _ in CLI_CASES}
    assert leaves <= covered, f"no hostile case for: {sorted(leaves - covered)}"
    assert len(CLI_CASES) + len(SERVER_CASES) >= 80


# -- the server cases ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(ws):
    from fastapi.testclient import TestClient

    from daekit.serve import create_app

    models = {name: str(ws / f"{name}_model") for name in ("gray", "color", "speech", "table")}
    return TestClient(create_app(models))


def _upload(name: str, data: bytes, ctype: str) -> dict:
    return {"files": {"file": (name, data, ctype)}}


GRAY = np.zeros((16, 16), np.uint8)
NOISY = (np.random.default_rng(1).random((64, 64)) * 255).astype(np.uint8)  # compresses badly: a cut loses pixels
SPEECH = 0.3 * np.sin(2 * np.pi * 220 * np.arange(4000) / 8000)

# (id, method, url, request keywords, text the detail must contain)
SERVER_CASES = [
    ("image no file", "post", "/v1/image/denoise", {}, "file"),
    ("image empty", "post", "/v1/image/denoise", _upload("e.png", b"", "image/png"), "empty"),
    ("image a wav", "post", "/v1/image/denoise", _upload("a.png", _wav(SPEECH), "image/png"), "accepted"),
    ("image sigma nan", "post", "/v1/image/denoise?sigma=nan", _upload("g.png", _png(GRAY), "image/png"), "sigma"),
    ("image sigma -3", "post", "/v1/image/denoise?sigma=-3", _upload("g.png", _png(GRAY), "image/png"), "sigma"),
    (
        "image strength 1.5",
        "post",
        "/v1/image/denoise?strength=1.5",
        _upload("g.png", _png(GRAY), "image/png"),
        "strength",
    ),
    ("image unknown model", "post", "/v1/image/denoise?model=nope", _upload("g.png", _png(GRAY), "image/png"), "nope"),
    ("image as text/plain", "post", "/v1/image/denoise", _upload("g.txt", b"hello", "text/plain"), "text/plain"),
    ("preview truncated", "post", "/v1/image/preview", _upload("t.png", _png(NOISY)[:2000], "image/png"), "truncated"),
    ("audio 1 Hz", "post", "/v1/audio/denoise", _upload("r.wav", _wav_at_rate(SPEECH, 1), "audio/wav"), "Hz"),
    (
        "audio lying header",
        "post",
        "/v1/audio/denoise",
        _upload("l.wav", _wav_claiming_more_data(SPEECH[:800]), "audio/wav"),
        "header",
    ),
    ("audio empty", "post", "/v1/audio/denoise", _upload("e.wav", b"", "audio/wav"), "empty"),
    (
        "audio unknown model",
        "post",
        "/v1/audio/denoise?model=nope",
        _upload("s.wav", _wav(SPEECH), "audio/wav"),
        "nope",
    ),
    ("anomaly text cells", "post", "/v1/anomaly/score", _upload("t.csv", b"1,2,3\n4,five,6\n", "text/csv"), "number"),
    (
        "anomaly huge int",
        "post",
        "/v1/anomaly/score",
        {"content": b'{"rows": [[' + b"9" * 5000 + b", 1, 2]]}", "headers": {"content-type": "application/json"}},
        "integer of 5,000 digits",
    ),
    (
        "anomaly contamination 0.9",
        "post",
        "/v1/anomaly/score?fit=true&contamination=0.9",
        _upload("s.csv", b"1\n2\n3\n" * 20, "text/csv"),
        "contamination",
    ),
    (
        "anomaly window -1",
        "post",
        "/v1/anomaly/score?fit=true&window=-1",
        _upload("s.csv", b"1\n2\n3\n" * 20, "text/csv"),
        "window",
    ),
    (
        "anomaly fit too costly",
        "post",
        "/v1/anomaly/score?fit=true&window=4000",
        _upload("s.csv", b"".join(f"{np.sin(i / 9):.4f}\n".encode() for i in range(5000)), "text/csv"),
        "over this server's fit limit",
    ),
    (
        "anomaly bad json",
        "post",
        "/v1/anomaly/score",
        {"content": b'{"rows": [[1,2,3],', "headers": {"content-type": "application/json"}},
        "JSON",
    ),
]


@pytest.mark.parametrize("case", SERVER_CASES, ids=[c[0] for c in SERVER_CASES])
def test_server_refuses_in_one_sentence_and_keeps_serving(client, case):
    _, method, url, kwargs, words = case
    r = getattr(client, method)(url, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail.endswith("."), detail
    assert words.lower() in detail.lower(), detail
    assert "Traceback" not in detail and "sys.set_int_max_str_digits" not in detail
    assert client.get("/healthz").status_code == 200
