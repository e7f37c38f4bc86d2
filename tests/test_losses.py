import pytest
import torch
import torch.nn.functional as F

from daekit import losses


def test_bce_from_logits_is_stable_and_matches_bce():
    logits = torch.tensor([[-200.0, 0.0, 200.0]])
    target = torch.tensor([[0.0, 0.5, 1.0]])
    value = losses.bce_with_logits(logits, target)
    assert torch.isfinite(value)
    mild = torch.randn(4, 6)
    t = torch.rand(4, 6)
    assert losses.bce_with_logits(mild, t).item() == pytest.approx(
        F.binary_cross_entropy(torch.sigmoid(mild), t).item(), rel=1e-5
    )


def test_get_loss_names():
    assert losses.get_loss("mse") is losses.mse
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_loss("huber2")


def test_sparsity_kl_is_zero_at_target_and_positive_elsewhere():
    z = torch.full((10, 5), 0.05)
    assert losses.sparsity_kl(z, 0.05).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.sparsity_kl(torch.full((10, 5), 0.5), 0.05).item() > 0.1
    with pytest.raises(ValueError):
        losses.sparsity_kl(z, 1.5)


def test_contractive_penalty_estimates_the_jacobian_norm():
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Sigmoid())
    x = torch.rand(3, 6)
    exact = sum(torch.autograd.functional.jacobian(enc, x[i : i + 1]).pow(2).sum() for i in range(3)) / 3
    # For one sigmoid layer the closed form is sum_j (h_j (1 - h_j))^2 sum_i W_ji^2.
    h = enc(x)
    closed = ((h * (1 - h)) ** 2 @ enc[0].weight.pow(2).sum(1)).mean()
    assert exact.item() == pytest.approx(closed.item(), rel=1e-5)
    torch.manual_seed(1)
    estimate = losses.contractive_penalty(enc, x, n_projections=4000)
    assert estimate.item() == pytest.approx(exact.item(), rel=0.05)


def test_contractive_penalty_has_gradients_for_the_encoder():
    enc = torch.nn.Linear(5, 3)
    losses.contractive_penalty(enc, torch.rand(4, 5)).backward()
    assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0
