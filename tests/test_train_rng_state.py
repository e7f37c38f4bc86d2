"""The random streams a training run saves: numpy's global generator must be MT19937.

``np.random.set_bit_generator`` can swap it for another, whose state numpy gives as a
dict; the trainer indexed it as MT19937's tuple and failed with a bare ``KeyError: 1``
at the first validation or checkpoint. It now says what is wrong.
"""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from daekit.train import TrainConfig, Trainer, _rng_state, _set_rng_state


class Recon(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.net(x), x)


@pytest.fixture
def pcg64_global():
    original = np.random.get_bit_generator()
    np.random.set_bit_generator(np.random.PCG64(0))
    try:
        yield
    finally:
        np.random.set_bit_generator(original)


def test_rng_state_round_trips():
    saved = _rng_state()
    a = (torch.rand(3), np.random.rand(3))
    _set_rng_state(saved)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_a_swapped_numpy_generator_is_named_not_a_key_error(pcg64_global):
    cfg = TrainConfig(max_steps=2, batch_size=8, quiet=True, device="cpu", val_every=2)
    with pytest.raises(ValueError, match="numpy's global random generator is PCG64, not MT19937"):
        Trainer(Recon(), cfg).fit(torch.randn(16, 4), torch.randn(8, 4))
