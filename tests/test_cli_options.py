"""Every option of every command goes through daekit's one validation layer.

The first tests walk the whole parser, so a flag added later with a bare ``type=int``
(or a number default and no type) fails here; the parametrized ones feed each numeric
flag a value outside its range and NaN, and expect one sentence naming the flag.
"""

from __future__ import annotations

import argparse
import math

import pytest

from daekit import checks
from daekit.cli import build_parser, main

TAKES_NO_VALUE = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._SubParsersAction,
)


def _commands(parser=None, path=()):
    """(command path, parser) for every command and group, depth first."""
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _options():
    """(command path, action) for every option that takes a value."""
    for path, parser in _commands():
        for action in parser._actions:
            if action.option_strings and not isinstance(action, TAKES_NO_VALUE):
                yield path, action


def _numeric_options():
    return [(path, a) for path, a in _options() if hasattr(a.type, "range") and not a.choices]


def _id(case):
    path, action = case
    return " ".join(path) + " " + action.option_strings[-1]


def test_no_option_takes_a_bare_int_or_float():
    bare = [_id((p, a)) for p, a in _options() if a.type in (int, float)]
    assert not bare, f"use a type from daekit.cli.options (it carries the range): {bare}"


def test_no_numeric_default_without_a_checked_type():
    untyped = [
        _id((p, a))
        for p, a in _options()
        if a.type is None and not a.choices and isinstance(a.default, (int, float)) and not isinstance(a.default, bool)
    ]
    assert not untyped, f"these options hold numbers but nothing checks them: {untyped}"


def test_every_device_option_is_checked():
    devices = [(p, a) for p, a in _options() if a.dest == "device"]
    assert len(devices) >= 5
    assert all(a.type is checks.device_argument for _, a in devices), [_id(c) for c in devices]


def test_every_default_is_inside_its_own_range():
    for path, action in _numeric_options():
        values = action.default if isinstance(action.default, (list, tuple)) else [action.default]
        for value in values:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert action.type.range.contains(value), _id((path, action))


def _outside(spec: checks.Range) -> str:
    if spec.low is not None:
        return str(int(spec.low) - 1 if spec.kind is int else spec.low - 1)
    if spec.high is not None:
        return str(spec.high + 1)
    return "1e999"  # an unbounded float: infinity is still refused


@pytest.mark.parametrize("bad", ["out", "nan"])
@pytest.mark.parametrize("case", _numeric_options(), ids=_id)
def test_a_value_outside_the_range_is_one_sentence(case, bad, capsys):
    path, action = case
    value = _outside(action.type.range) if bad == "out" else "nan"
    n_values = action.nargs if isinstance(action.nargs, int) else 1
    code = main([*path, action.option_strings[-1], *[value] * n_values])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("daekit: error: argument ") and action.option_strings[-1] in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_the_cases_named_in_the_issue(capsys):
    for argv, words in [
        (
            ["image", "denoise", "a.png", "-o", "b.png", "--sigma", "nan"],
            "--sigma: must be a noise level from 0 to 255",
        ),
        (["image", "denoise", "a.png", "-o", "b.png", "--sigma", "-30"], "--sigma"),
        (["image", "denoise", "a.png", "-o", "b.png", "--sigma", "1e9"], "--sigma"),
        (["image", "add-noise", "a.png", "-o", "b.png", "--sigma", "inf"], "--sigma"),
        (["train", "x.npy", "--out", "r", "--grad-clip", "-1"], "--grad-clip: must be a finite number above 0"),
        (["anomaly", "score", "m", "x.csv", "-o", "o.csv", "--threshold", "nan"], "--threshold: must be a finite"),
        (["anomaly", "stream", "x.csv", "-o", "o.csv", "--threshold", "2"], "--threshold: must be a number between"),
        (["anomaly", "stream", "x.csv", "-o", "o.csv", "--quiet-steps", "-1"], "--quiet-steps"),
        (["image", "train", "d", "--out", "r", "--std-max", "-10"], "--std-max"),
        (["denoise", "m", "x.npy", "-o", "o.npy", "--batch-size", "0"], "--batch-size: must be a whole number of 1"),
        (["train", "x.npy", "--out", "r", "--device", "tpu"], "--device: must be one of auto, cpu, cuda"),
        (["image", "train", "d", "--out", "r", "--patch", "0"], "--patch"),
        (["image", "train", "d", "--out", "r", "--patch", "-4"], "--patch"),
        (["audio", "train", "--clean", "d", "--out", "r", "--seconds", "0"], "--seconds"),
        (["noise", "select", "x.npy", "--task", "denoise", "--trials", "0"], "--trials"),
        (["audio", "train", "--clean", "d", "--out", "r", "--noise-span", "0.7", "2"], "--noise-span"),
        (
            ["train", "x.npy", "--out", "r", "--noise", "gaussian:0.1+"],
            "--noise: noise spec 'gaussian:0.1+' has an empty",
        ),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)


def test_values_checked_against_each_other_before_any_work(tmp_path, capsys):
    out = tmp_path / "run"
    for extra, words in [
        (["--noise-span", "0.7", "0"], "--noise-span 0.7 0: START must be below END."),
        (["--snr", "10", "0"], "--snr 10 0: LOW must not be above HIGH."),
        (["--seconds", "0.001"], "--seconds 0.001 is too short"),
    ]:
        # --clean names no file: the cross checks must fire before the recordings are looked for.
        assert main(["audio", "train", "--clean", str(tmp_path / "none"), "--out", str(out), *extra]) == 2
        assert words in capsys.readouterr().err
    assert not out.exists()


def test_the_api_refuses_the_same_values_naming_the_argument():
    import numpy as np
    import torch

    import daekit as dk
    from daekit.apps.anomaly_stream import StreamDetector

    with pytest.raises(ValueError, match="^grad_clip must be a finite number above 0, not -1"):
        dk.TrainConfig(grad_clip=-1)
    with pytest.raises(ValueError, match="^batch_size must be a whole number of 1 or more, not 0"):
        dk.TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="^device must be one of"):
        dk.TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="^threshold="):
        dk.DAEDetector(threshold=math.nan).fit(np.arange(40.0).reshape(-1, 1))
    with pytest.raises(ValueError, match="^threshold must be a number between 0 and 1"):
        StreamDetector(threshold=2).fit_score(np.arange(500.0))
    model = dk.create_model("image_unet", channels=[4, 8], blocks=1)
    den = dk.ImageDenoiser(model)
    for sigma in (math.nan, -30, 1e9):
        with pytest.raises(ValueError, match="^sigma must be 'auto' or a noise level from 0 to 255"):
            den(np.zeros((16, 16), np.uint8), sigma=sigma)
    with pytest.raises(ValueError, match="^patch_size must be"):
        dk.apps.image.train_image_denoiser(torch.zeros(4, 1, 32, 32, dtype=torch.uint8), "unused", patch_size=0)
