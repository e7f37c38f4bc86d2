"""daekit.apps.image_objective: PatchObjective and validation_pairs, with the default white
Gaussian noise (unchanged draws) and with any daekit noise process."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import daekit as dk
from daekit.apps.image_objective import PatchObjective, residual_rms, validation_pairs
from daekit.data import image as imdata
from daekit.models.image_unet import estimate_noise_std


def bank(n=4, size=48, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


class Spy(nn.Module):
    """A noise-map model that remembers what it was given and returns its input scaled."""

    def __init__(self, noise_map=True):
        super().__init__()
        self.noise_map = noise_map
        self.scale = nn.Parameter(torch.tensor(0.9))
        self.seen: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def forward(self, x, sigma=None):
        self.seen.append((x.detach().clone(), None if sigma is None else sigma.detach().clone()))
        return self.scale * x


def old_loss(model, tiles, n, patch_size, std, known_sigma):
    """The objective's formula before noise processes: a copy kept to pin the default path."""
    x = imdata.random_patches(tiles, n, patch_size)
    lo, hi = std
    sigma = lo + (hi - lo) * torch.rand(n, device=x.device)
    x_noisy = x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x)
    if getattr(model, "noise_map", False) and known_sigma < 1:
        blind = torch.rand(n, device=x.device) >= known_sigma
        sigma = torch.where(blind, estimate_noise_std(x_noisy), sigma)
    out = model(x_noisy, sigma=sigma) if getattr(model, "noise_map", False) else model(x_noisy)
    return F.mse_loss(out.float(), x.float())


@pytest.mark.parametrize("noise_map", [True, False])
def test_default_path_draws_exactly_as_before(noise_map):
    tiles = bank()
    torch.manual_seed(0)
    model = dk.create_model("image_unet", in_channels=1, channels=(8, 16), blocks=1, noise_map=noise_map)
    obj = PatchObjective(model, tiles, patch_size=32, std=(0.0, 55 / 255), known_sigma=0.5)
    torch.manual_seed(123)
    new = obj(torch.arange(8))
    after_new = torch.rand(1)
    torch.manual_seed(123)
    old = old_loss(model, tiles, 8, 32, (0.0, 55 / 255), 0.5)
    after_old = torch.rand(1)
    assert torch.equal(new, old)
    assert torch.equal(after_new, after_old)  # the same count of random numbers was drawn


def test_a_noise_process_is_applied_and_sigma_is_the_residual_rms():
    spy = Spy()
    obj = PatchObjective(spy, bank(), patch_size=32, known_sigma=1.0, noise=dk.noise.Masking(p=0.5, value=0.0))
    torch.manual_seed(0)
    obj(torch.arange(6))
    x_noisy, sigma = spy.seen[-1]
    assert (x_noisy == 0).float().mean() > 0.4  # masking, not Gaussian noise
    # The σ a noise-map model is told: the RMS of noisy − clean, patch by patch. Re-draw the same clean patches.
    torch.manual_seed(0)
    x = imdata.random_patches(obj.tiles, 6, 32)
    torch.testing.assert_close(sigma, residual_rms(x_noisy, x))
    assert torch.all(sigma > 0.1)


def test_noise_process_sigma_for_a_known_gaussian_level():
    spy = Spy()
    obj = PatchObjective(spy, bank(size=64), patch_size=64, known_sigma=1.0, noise=dk.noise.Gaussian(std=0.1))
    obj(torch.arange(16))
    _, sigma = spy.seen[-1]
    torch.testing.assert_close(sigma, torch.full((16,), 0.1), atol=0.006, rtol=0)


def test_noise_process_blind_share_gets_the_blind_estimate():
    spy = Spy()
    obj = PatchObjective(spy, bank(), patch_size=32, known_sigma=0.0, noise=dk.noise.Gaussian(std=0.2))
    obj(torch.arange(4))
    x_noisy, sigma = spy.seen[-1]
    torch.testing.assert_close(sigma, estimate_noise_std(x_noisy))


def test_noise_process_trains_a_real_model():
    model = dk.create_model("image_unet", in_channels=3, channels=(8, 16), blocks=1, noise_map=True)
    noise = dk.noise.Compose([dk.noise.Poisson(peak=(20, 60)), dk.noise.Gaussian(std=(0, 0.05))])
    obj = PatchObjective(model, bank(channels=3), patch_size=32, noise=noise)
    loss = obj(torch.arange(4))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_not_a_noise_process_is_refused():
    with pytest.raises(TypeError, match="noise process"):
        PatchObjective(Spy(), bank(), noise="gaussian:0.1")
    with pytest.raises(TypeError, match="noise process"):
        validation_pairs(bank(), noise=0.1)


def test_validation_pairs_default_unchanged_and_with_a_process():
    tiles = bank()
    x, x_noisy, sigma = validation_pairs(tiles, n=6, patch_size=32).tensors
    g = torch.Generator().manual_seed(1234)
    x_old = imdata.random_patches(tiles, 6, 32, g)
    s_old = torch.tensor([(15, 25, 50)[i % 3] / 255 for i in range(6)])
    assert torch.equal(x, x_old) and torch.equal(sigma, s_old)
    assert torch.equal(x_noisy, x_old + s_old.view(-1, 1, 1, 1) * torch.randn(x_old.shape, generator=g))

    noise = dk.noise.Speckle(std=(0.1, 0.3))
    a = validation_pairs(tiles, n=6, patch_size=32, noise=noise).tensors
    b = validation_pairs(tiles, n=6, patch_size=32, noise=noise).tensors
    assert all(torch.equal(u, v) for u, v in zip(a, b))  # fixed: the same every run
    assert torch.equal(a[0], x)  # the same clean patches as the default
    torch.testing.assert_close(a[2], residual_rms(a[1], a[0]))
