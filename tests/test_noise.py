import math

import pytest
import torch

from daekit import noise

PROCESSES = [
    noise.Gaussian(std=0.3),
    noise.Gaussian(std=(0.0, 0.5)),
    noise.Uniform(width=0.5),
    noise.Speckle(std=0.2),
    noise.Masking(p=0.3),
    noise.SaltPepper(p=(0.0, 0.2)),
    noise.Poisson(peak=20.0),
    noise.Compose([noise.Gaussian(0.1), noise.Masking(0.2)]),
    noise.OneOf([noise.Gaussian(0.1), noise.SaltPepper(0.1)], p=[0.3, 0.7]),
]


def test_gaussian_std_matches():
    x = torch.zeros(64, 1, 32, 32)
    assert noise.gaussian(x, 0.25).std().item() == pytest.approx(0.25, rel=0.02)


def test_gaussian_range_draws_one_level_per_sample():
    x = torch.zeros(400, 2000)
    stds = noise.Gaussian(std=(0.1, 0.5))(x, generator=torch.Generator().manual_seed(0)).std(dim=1)
    # each row's empirical std is its drawn level within sampling error (~1.6 % at n=2000)
    assert stds.min() > 0.1 * 0.95 and stds.max() < 0.5 * 1.05
    # uniform on [0.1, 0.5]: mean 0.3, spread wide
    assert stds.mean().item() == pytest.approx(0.3, abs=0.02)
    assert stds.std().item() == pytest.approx(0.4 / math.sqrt(12), rel=0.15)


def test_masking_fraction_and_value():
    x = torch.ones(32, 10_000)
    out = noise.masking(x, 0.3, value=-1.0)
    assert (out == -1).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert set(out.unique().tolist()) == {-1.0, 1.0}


def test_salt_pepper_uses_each_samples_range_by_default():
    x = torch.rand(16, 5000) * 10 + 3
    out = noise.salt_pepper(x, 0.2)
    lo, hi = x.amin(1, keepdim=True), x.amax(1, keepdim=True)
    changed = out != x
    assert changed.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert torch.all((out == lo) | (out == hi) | ~changed)
    salt = (out == hi) & changed
    assert salt.float().sum() / changed.float().sum() == pytest.approx(0.5, abs=0.03)
    fixed = noise.SaltPepper(p=1.0, low=-2, high=7)(x)
    assert set(fixed.unique().tolist()) <= {-2.0, 7.0}


def test_uniform_width_and_speckle_scale_with_signal():
    x = torch.zeros(8, 100_000)
    u = noise.uniform(x, 1.0)
    assert u.min() >= -0.5 and u.max() <= 0.5
    assert u.std().item() == pytest.approx(1 / math.sqrt(12), rel=0.02)
    x = torch.full((8, 100_000), 4.0)
    assert (noise.speckle(x, 0.1) - x).std().item() == pytest.approx(0.4, rel=0.02)


def test_poisson_is_unbiased_and_variance_follows_peak():
    x = torch.full((4, 200_000), 0.5)
    out = noise.poisson(x, 10.0)
    assert out.mean().item() == pytest.approx(0.5, rel=0.01)
    assert out.var().item() == pytest.approx(0.5 / 10, rel=0.03)
    assert torch.equal(noise.poisson(x, math.inf), x)


@pytest.mark.parametrize(
    "fn,arg",
    [
        (noise.gaussian, "std"),
        (noise.uniform, "width"),
        (noise.speckle, "std"),
        (noise.masking, "p"),
        (noise.salt_pepper, "p"),
    ],
)
def test_level_zero_is_identity(fn, arg):
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(fn(x, **{arg: 0.0}), x)


@pytest.mark.parametrize("proc", PROCESSES, ids=repr)
def test_generator_makes_it_deterministic(proc):
    x = torch.rand(6, 1, 16, 16)
    a = proc(x, generator=torch.Generator().manual_seed(3))
    b = proc(x, generator=torch.Generator().manual_seed(3))
    c = proc(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("proc", PROCESSES, ids=repr)
def test_keeps_dtype(proc, dtype):
    x = torch.rand(4, 50, dtype=dtype)
    assert proc(x).dtype == dtype


def test_half_precision_statistics_are_right():
    x = torch.zeros(16, 10_000, dtype=torch.bfloat16)
    assert noise.gaussian(x, 0.2).float().std().item() == pytest.approx(0.2, rel=0.03)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", (0.3, 0.1), (0.1,), True, None])
def test_invalid_std_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="std="):
        noise.Gaussian(std=bad)


@pytest.mark.parametrize("bad", [1.5, -0.2, (0.2, 1.2)])
def test_invalid_probability_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"p=.*\[0.0, 1.0\]"):
        noise.Masking(p=bad)
    with pytest.raises(ValueError):
        noise.salt_pepper(torch.zeros(2, 2), bad)


def test_poisson_peak_zero_is_refused():
    with pytest.raises(ValueError, match="peak"):
        noise.Poisson(peak=0)


def test_oneof_applies_one_process_per_sample():
    x = torch.zeros(2000, 100)
    out = noise.OneOf([noise.Identity(), noise.Gaussian(1.0)], p=[0.25, 0.75])(x)
    noisy = (out.abs().sum(1) > 0).float().mean().item()
    assert noisy == pytest.approx(0.75, abs=0.04)


@pytest.mark.parametrize("proc", PROCESSES + [noise.Identity(), noise.Poisson(peak=math.inf)], ids=repr)
def test_config_round_trip(proc):
    import json

    cfg = json.loads(json.dumps(proc.to_config()))
    assert noise.from_config(cfg) == proc


def test_from_spec():
    assert noise.from_spec("gaussian:0.1") == noise.Gaussian(0.1)
    assert noise.from_spec("gaussian:0-0.2") == noise.Gaussian((0.0, 0.2))
    assert noise.from_spec("masking:0.25+saltpepper:0.1") == noise.Compose([noise.Masking(0.25), noise.SaltPepper(0.1)])
    assert noise.from_spec("none") == noise.Identity()
    for bad in ["", "blur:3", "gaussian", "gaussian:abc", "masking:2"]:
        with pytest.raises(ValueError):
            noise.from_spec(bad)


def test_generator_on_other_device_than_data_is_fine():
    # A CPU generator drives noise for data on any device; here both are CPU, but the
    # draw path (draw on the generator's device, move to the data's) is the one used.
    x = torch.rand(3, 10)
    g = torch.Generator(device="cpu").manual_seed(0)
    assert noise.Gaussian(0.1)(x, generator=g).device == x.device


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("proc", PROCESSES, ids=repr)
def test_runs_on_cuda(proc):
    x = torch.rand(4, 1, 8, 8, device="cuda")
    assert proc(x, generator=torch.Generator(device="cuda").manual_seed(0)).device.type == "cuda"


# -- salt and pepper on the data's range; processes that change nothing warn once ---------


def test_salt_pepper_on_constant_unit_data_uses_0_and_1():
    # Once, salt and pepper were each sample's own min and max: on a constant sample, the
    # sample's value itself, so p=0.2 changed nothing.
    x = torch.full((16, 5000), 0.5)
    out = noise.SaltPepper(p=0.2)(x, generator=torch.Generator().manual_seed(0))
    changed = out != x
    assert changed.float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}


def test_salt_pepper_on_narrow_unit_data_uses_0_and_1():
    x = 0.4 + 0.1 * torch.rand(8, 2000)
    out = noise.salt_pepper(x, 0.3, generator=torch.Generator().manual_seed(0))
    assert set(out[out != x].unique().tolist()) == {0.0, 1.0}


def test_fit_to_data_takes_the_per_feature_range_of_standardised_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 2.0, 3.0])
    fitted = noise.fit_to_data(noise.Compose([noise.Gaussian(0.1), noise.SaltPepper(0.5)]), x)
    sp = fitted.transforms[1]
    assert sp.low == pytest.approx(tuple(x.amin(0).tolist())) and sp.high == pytest.approx(tuple(x.amax(0).tolist()))
    out = sp(torch.zeros(64, 3), generator=g)
    for j in range(3):
        assert set(out[:, j].unique().tolist()) <= {0.0, sp.low[j], sp.high[j]}
    import json

    assert noise.from_config(json.loads(json.dumps(fitted.to_config()))) == fitted


def test_fit_to_data_keeps_given_values_and_uses_0_and_1_on_unit_data():
    assert noise.fit_to_data(noise.SaltPepper(0.1), torch.rand(50, 4)) == noise.SaltPepper(0.1, low=0.0, high=1.0)
    given = noise.fit_to_data(noise.SaltPepper(0.1, low=-5.0), torch.randn(50, 2) + 10)
    assert given.low == -5.0 and isinstance(given.high, tuple) and len(given.high) == 2
    assert noise.fit_to_data(noise.Gaussian(0.1), torch.randn(5, 2)) == noise.Gaussian(0.1)


def test_old_salt_pepper_config_still_loads():
    old = {"type": "SaltPepper", "p": [0.0, 0.2], "low": None, "high": None}
    assert noise.from_config(old) == noise.SaltPepper(p=(0.0, 0.2))


@pytest.mark.parametrize("bad", ["0", float("nan"), [], [1.0, float("inf")], True])
def test_invalid_salt_pepper_value_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="low="):
        noise.SaltPepper(0.1, low=bad)


def test_per_feature_salt_pepper_refuses_a_batch_of_another_width():
    with pytest.raises(ValueError, match="one per feature"):
        noise.SaltPepper(0.1, low=[0.0, 1.0], high=[2.0, 3.0])(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="one of each per feature"):
        noise.SaltPepper(0.1, low=[0.0, 1.0], high=[2.0])


@pytest.mark.parametrize(
    "proc,x",
    [
        (noise.SaltPepper(p=0.5, low=2.0, high=2.0), torch.full((4, 100), 2.0)),
        (noise.SaltPepper(p=0.5), torch.full((4, 100), 7.0)),  # constant, off [0, 1]: its own range is no range
        (noise.Masking(p=0.5), torch.zeros(4, 100)),
        (noise.Speckle(std=0.3), torch.zeros(4, 100)),
        (noise.Poisson(peak=10.0), torch.zeros(4, 100)),
        (noise.Gaussian(std=1e-4), torch.full((4, 100), 100.0, dtype=torch.bfloat16)),
    ],
    ids=repr,
)
def test_a_process_that_changes_nothing_warns_once(proc, x):
    with pytest.warns(UserWarning, match="changed nothing") as record:
        for _ in range(5):
            proc(x)
    assert len([w for w in record if "changed nothing" in str(w.message)]) == 1
    # ...once per process object: a fresh one warns again
    with pytest.warns(UserWarning, match="changed nothing"):
        noise.from_config(proc.to_config())(x)


@pytest.mark.parametrize(
    "proc,x",
    [
        (noise.SaltPepper(p=0.2), torch.full((4, 100), 0.5)),
        (noise.SaltPepper(p=0.0), torch.rand(4, 100)),  # level 0 asks for no noise
        (noise.Gaussian(std=0.0), torch.rand(4, 100)),
        (noise.Poisson(peak=math.inf), torch.zeros(4, 100)),
        (noise.Masking(p=1e-9), torch.zeros(1, 4)),  # nothing was drawn: luck, not a useless setting
        (noise.Masking(p=0.5), torch.rand(4, 100)),
    ],
    ids=repr,
)
def test_a_process_that_corrupts_or_is_asked_not_to_does_not_warn(proc, x):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proc(x, generator=torch.Generator().manual_seed(0))


def test_daekit_train_fits_salt_and_pepper_to_the_standardised_features(tmp_path):
    import json

    import numpy as np

    from daekit.cli import main

    x = np.random.default_rng(0).normal(size=(40, 3)) * [1.0, 5.0, 0.1] + [0.0, 50.0, -3.0]
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    argv = ["train", str(tmp_path / "x.npy"), "--out", str(tmp_path / "m"), "--noise", "saltpepper:0.1"]
    assert main(argv + ["--hidden", "4", "--steps", "2", "--val-split", "0", "--quiet"]) == 0
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())["noise"]
    z = (x - x.mean(0)) / x.std(0)
    assert cfg["low"] == pytest.approx(z.min(0).tolist(), abs=1e-4)
    assert cfg["high"] == pytest.approx(z.max(0).tolist(), abs=1e-4)
