import pytest
import torch

import daekit as dk


def make(**kw):
    torch.manual_seed(0)
    model = dk.create_model(
        "mlp",
        in_features=16,
        hidden_sizes=[12, 4],
        output_activation="sigmoid" if kw.get("loss") == "bce" else "identity",
    )
    return dk.DenoisingAutoencoder(model, **kw)


def test_forward_corrupts_then_compares_with_the_clean_input():
    dae = make(noise=dk.noise.Masking(p=1.0))  # every input zeroed
    x = torch.rand(8, 16)
    expected = torch.nn.functional.mse_loss(dae.model(torch.zeros_like(x)), x)
    assert dae(x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_recorded_pairs_skip_synthetic_noise():
    dae = make(noise=dk.noise.Gaussian(5.0))
    x, x_noisy = torch.rand(8, 16), torch.rand(8, 16)
    expected = torch.nn.functional.mse_loss(dae.model(x_noisy), x)
    assert dae(x, x_noisy=x_noisy).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        dae(x, x_noisy=x_noisy[:4])


@pytest.mark.parametrize("loss", ["mse", "l1", "bce"])
def test_each_loss_trains_down(loss):
    dae = make(noise="gaussian:0.1", loss=loss)
    x = torch.rand(64, 16).round()
    opt = torch.optim.Adam(dae.parameters(), lr=1e-2)
    first = dae(x).item()
    for _ in range(150):
        opt.zero_grad()
        dae(x).backward()
        opt.step()
    assert dae(x).item() < 0.7 * first


def test_bce_works_from_logits():
    dae = make(loss="bce")
    x = torch.rand(4, 16)
    logits = dae.model.forward_logits(x)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, x)
    assert dae(x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_regularisers_add_to_the_loss():
    x = torch.rand(8, 16)
    torch.manual_seed(1)
    plain = make()(x).item()
    torch.manual_seed(1)
    sparse = make(sparsity=1.0)(x).item()
    torch.manual_seed(1)
    contractive = make(contractive=1.0)(x).item()
    assert sparse > plain and contractive > plain
    make(sparsity=0.5, sparsity_kind="kl")(x).backward()


def test_denoise_and_encode_restore_training_mode_and_need_no_grad():
    dae = make(noise="gaussian:0.1")
    dae.train()
    out = dae.denoise(torch.rand(3, 16))
    assert dae.training and not out.requires_grad
    assert dae.encode(torch.rand(3, 16)).shape == (3, 4)


def test_a_dae_learns_to_denoise():
    torch.manual_seed(0)
    basis = torch.randn(3, 32)
    x = torch.randn(512, 3) @ basis / 3  # clean data on a 3-d subspace
    dae = dk.DenoisingAutoencoder(
        dk.create_model("mlp", in_features=32, hidden_sizes=[64, 8]), noise=dk.noise.Gaussian(0.3)
    )
    opt = torch.optim.Adam(dae.parameters(), lr=3e-3)
    for _ in range(400):
        opt.zero_grad()
        dae(x).backward()
        opt.step()
    x_noisy = dk.noise.gaussian(x, 0.3, generator=torch.Generator().manual_seed(0))
    before = (x_noisy - x).pow(2).mean()
    after = (dae.denoise(x_noisy) - x).pow(2).mean()
    assert after < 0.3 * before


def test_bad_arguments():
    model = dk.create_model("mlp", in_features=4)
    with pytest.raises(ValueError, match="unknown loss"):
        dk.DenoisingAutoencoder(model, loss="hinge")
    with pytest.raises(ValueError):
        dk.DenoisingAutoencoder(model, sparsity=-1)
    with pytest.raises(TypeError):
        dk.DenoisingAutoencoder("mlp")
