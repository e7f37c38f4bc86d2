import json

import numpy as np
import pytest

from daekit import __version__
from daekit.cli import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--noise" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 10)) * 2 + 5
    np.save(tmp / "train.npy", x.astype(np.float32))
    code = main(
        [
            "train",
            str(tmp / "train.npy"),
            "--out",
            str(tmp / "model"),
            "--hidden",
            "32,4",
            "--noise",
            "gaussian:0.3",
            "--steps",
            "400",
            "--lr",
            "3e-3",
            "--batch-size",
            "64",
            "--quiet",
        ]
    )
    assert code == 0
    return tmp, x


def test_train_info_denoise_export(trained, capsys):
    tmp, x = trained
    assert (tmp / "model" / "config.json").is_file() and (tmp / "model" / "metrics.csv").is_file()
    code, out, _ = run(["info", tmp / "model"], capsys)
    assert code == 0 and "mlp" in out and "Gaussian(std=0.3)" in out and "parameters" in out
    code, out, _ = run(["info", tmp / "model", "--json"], capsys)
    assert json.loads(out)["model"]["kwargs"]["hidden_sizes"] == [32, 4]

    noisy = x + np.random.default_rng(1).normal(size=x.shape) * 0.3 * x.std(0)
    np.savetxt(tmp / "noisy.csv", noisy, delimiter=",")
    code, out, _ = run(["denoise", tmp / "model", tmp / "noisy.csv", "-o", tmp / "clean.npy"], capsys)
    assert code == 0
    clean = np.load(tmp / "clean.npy")
    assert clean.shape == x.shape
    assert np.mean((clean - x) ** 2) < 0.5 * np.mean((noisy - x) ** 2)

    pytest.importorskip("onnxruntime")
    code, out, _ = run(["export", tmp / "model", "--onnx", tmp / "m.onnx"], capsys)
    assert code == 0 and "matches PyTorch" in out and (tmp / "m.onnx").is_file()


@pytest.mark.parametrize(
    "args,match",
    [
        (["info", "{tmp}/nothing"], "not a model folder"),
        (["denoise", "{tmp}/model", "{tmp}/wide.npy", "-o", "{tmp}/o.npy"], "expects 10"),
        (["denoise", "{tmp}/model", "{tmp}/nan.csv", "-o", "{tmp}/o.npy"], "NaN"),
        (["train", "{tmp}/nan.csv", "--out", "{tmp}/m2", "--quiet"], "NaN"),
        (["train", "{tmp}/train.npy", "--out", "{tmp}/m2", "--noise", "blur:2"], "unknown noise"),
        (["train", "{tmp}/train.npy", "--out", "{tmp}/m2", "--hidden", "a,b"], "--hidden"),
        (["denoise", "{tmp}/model", "{tmp}/train.npy", "-o", "{tmp}/o.txt"], "must end in"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(trained, capsys, args, match):
    tmp, _ = trained
    np.save(tmp / "wide.npy", np.zeros((4, 12), dtype=np.float32))
    (tmp / "nan.csv").write_text("1,2,3\n4,nan,6\n")
    code, out, err = run([a.format(tmp=tmp) for a in args], capsys)
    assert code == 2
    assert match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_same_command_gives_the_same_model(trained, capsys):
    tmp, _ = trained
    for name in ("a", "b"):
        code, _, _ = run(
            [
                "train",
                tmp / "train.npy",
                "--out",
                tmp / name,
                "--hidden",
                "8,2",
                "--steps",
                "5",
                "--seed",
                "7",
                "--quiet",
            ],
            capsys,
        )
        assert code == 0
    assert (tmp / "a" / "model.safetensors").read_bytes() == (tmp / "b" / "model.safetensors").read_bytes()


def test_no_command_prints_help(capsys):
    code, out, _ = run([], capsys)
    assert code == 2 and "COMMAND" in out
