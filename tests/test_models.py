"""One contract for every registered model: shapes, backward, save -> load round trip."""

import pytest
import torch

import daekit as dk
from daekit.models import Autoencoder


def build(name):
    cls_kwargs, shape = _example(name)
    torch.manual_seed(0)
    return dk.create_model(name, **cls_kwargs), shape


def _example(name):
    factory = dk.models._MODELS[name]
    assert hasattr(factory, "contract_example"), f"model '{name}' has no contract_example()"
    return factory.contract_example()


@pytest.mark.parametrize("name", dk.list_models())
def test_forward_keeps_shape_and_backward_reaches_every_parameter(name):
    model, shape = build(name)
    assert isinstance(model, Autoencoder)
    x = torch.rand(*shape)
    x_hat = model(x)
    assert x_hat.shape == x.shape
    assert torch.isfinite(x_hat).all()
    model(x).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("name", dk.list_models())
def test_encode_gives_a_batch_of_codes(name):
    model, shape = build(name)
    z = model.encode(torch.rand(*shape))
    assert z.shape[0] == shape[0]


@pytest.mark.parametrize("name", dk.list_models())
def test_save_load_round_trip_gives_identical_outputs(name, tmp_path):
    model, shape = build(name)
    dae = dk.DenoisingAutoencoder(model, noise=dk.noise.Gaussian(0.1))
    x = torch.rand(*shape)
    dae.train()
    dae(x).backward()  # touch batch-norm running stats so they must be saved too
    dae.save_pretrained(tmp_path / "m")
    loaded = dk.DenoisingAutoencoder.from_pretrained(tmp_path / "m")
    assert type(loaded.model) is type(model)
    assert loaded.model.get_config() == model.get_config()
    assert torch.equal(loaded.denoise(x), dae.denoise(x))


@pytest.mark.parametrize("name", dk.list_models())
def test_config_is_json_and_rebuilds_the_same_model(name):
    import json

    model, _ = build(name)
    cfg = json.loads(json.dumps(model.get_config()))
    again = dk.create_model(name, **cfg)
    assert again.get_config() == model.get_config()
    assert again.num_parameters() == model.num_parameters()


def test_dense_decoder_mirrors_encoder():
    m = dk.create_model("mlp", in_features=20, hidden_sizes=[16, 8, 4])
    enc = [tuple(layer.weight.shape) for layer in m.encoder_layers]
    dec = [tuple(layer.weight.shape) for layer in m.decoder_layers]
    assert enc == [(16, 20), (8, 16), (4, 8)]
    assert dec == [(t[1], t[0]) for t in reversed(enc)]


def test_tied_weights_share_the_encoder_matrices():
    untied = dk.create_model("mlp", in_features=20, hidden_sizes=[16, 4])
    tied = dk.create_model("mlp", in_features=20, hidden_sizes=[16, 4], tied=True)
    assert tied.num_parameters() == untied.num_parameters() - (20 * 16 + 16 * 4)
    x = torch.rand(3, 20)
    tied(x).sum().backward()
    before = tied(x).detach().clone()
    with torch.no_grad():
        tied.encoder_layers[0].weight.add_(0.5)  # changes the decoder's last layer too
        z = tied.encode(x)
        assert not torch.allclose(tied.decode(z), before)


def test_sigmoid_output_lies_in_unit_interval():
    m = dk.create_model("mlp", in_features=10, output_activation="sigmoid")
    out = m(torch.randn(4, 10) * 100)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (33, 64), (17, 100)])
def test_conv2d_takes_any_size(size):
    m = dk.create_model("conv2d", channels=[4, 8, 8, 8], blocks_per_level=1, skips=True)
    x = torch.rand(1, 1, *size)
    assert m(x).shape == x.shape


def test_residual_output_is_input_minus_prediction():
    m = dk.create_model("conv2d", channels=[4, 8], residual=True)
    x = torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        for p in m.head.parameters():
            p.zero_()
    assert torch.equal(m(x), x)  # f(x) = 0 -> x_hat = x


def test_pooled_and_nearest_options_build():
    m = dk.create_model("conv1d", in_channels=2, channels=[4, 8], downsample="pool", upsample="nearest")
    assert m(torch.rand(3, 2, 50)).shape == (3, 2, 50)


def test_decode_alone_is_refused_with_skips():
    m = dk.create_model("conv2d", channels=[4, 8], skips=True)
    with pytest.raises(ValueError, match="skips"):
        m.decode(m.encode(torch.rand(1, 1, 8, 8)))


def test_plain_conv_decode_inverts_encode_shape():
    m = dk.create_model("conv2d", channels=[4, 8, 16])
    x = torch.rand(2, 1, 16, 24)
    assert m.decode(m.encode(x)).shape == x.shape


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("mlp", {"in_features": 0}, "in_features"),
        ("mlp", {"in_features": 4, "activation": "swish"}, "activation"),
        ("conv2d", {"downsample": "avg"}, "downsample"),
        ("conv2d", {"residual": True, "output_activation": "sigmoid"}, "residual"),
        ("conv1d", {"kernel_size": 4}, "odd"),
        ("nope", {}, "unknown model"),
    ],
)
def test_bad_arguments_are_clear(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dk.create_model(name, **kwargs)


def test_wrong_input_shape_is_clear():
    with pytest.raises(ValueError, match=r"\(N, 12\)"):
        dk.create_model("mlp", in_features=12)(torch.rand(2, 13))
    with pytest.raises(ValueError, match="C=3"):
        dk.create_model("conv2d", in_channels=3)(torch.rand(2, 1, 8, 8))
