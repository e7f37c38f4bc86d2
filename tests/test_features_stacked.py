"""Stacked DAEs at the PyTorch level: stacking is exact, pretraining trains each layer."""

import pytest
import torch

from daekit.apps.features_stacked import FineTuneNet, layer_noises, pretrain_stack, stack_layers
from daekit.models.mlp import DenseAutoencoder
from daekit.train import TrainConfig


@pytest.mark.parametrize("tied", [True, False])
def test_stack_layers_is_the_composition_of_its_layers(tied):
    torch.manual_seed(0)
    bottom = DenseAutoencoder(
        12, (8,), activation="sigmoid", latent_activation="sigmoid", output_activation="sigmoid", tied=tied
    )
    top = DenseAutoencoder(
        8, (5,), activation="sigmoid", latent_activation="sigmoid", output_activation="sigmoid", tied=tied
    )
    deep = stack_layers([bottom, top])
    x = torch.rand(7, 12)
    with torch.no_grad():
        torch.testing.assert_close(deep.encode(x), top.encode(bottom.encode(x)))
        # decoding walks the layers back: top's decoder, then bottom's
        torch.testing.assert_close(deep.decode(deep.encode(x)), bottom.decode(top.decode(top.encode(bottom.encode(x)))))
    assert deep.hidden_sizes == (8, 5) and deep.tied == tied


def test_stack_layers_refuses_mismatched_layers():
    a = DenseAutoencoder(12, (8,), tied=True)
    with pytest.raises(ValueError, match="cannot feed"):
        stack_layers([a, DenseAutoencoder(6, (4,), tied=True)])
    with pytest.raises(ValueError, match="sharing activation and tying"):
        stack_layers([a, DenseAutoencoder(8, (4,), tied=False)])
    with pytest.raises(ValueError, match="at least one"):
        stack_layers([])


def test_pretrain_stack_lowers_each_layers_loss():
    torch.manual_seed(0)
    x = (torch.rand(256, 20) < 0.3).float()
    histories = []
    model = pretrain_stack(
        x,
        (16, 6),
        noise=["masking:0.2", "masking:0.1"],
        histories=histories,
        config=TrainConfig(max_steps=60, batch_size=32, lr=1e-2, quiet=True, log_every=10),
    )
    assert model.encode(x).shape == (256, 6)
    assert len(histories) == 2
    for history in histories:
        assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_layer_noises_and_finetune_net():
    assert len(layer_noises("masking:0.25", 3)) == 3
    with pytest.raises(ValueError, match="one per layer"):
        layer_noises(["masking:0.1"], 2)
    net = FineTuneNet(DenseAutoencoder(10, (6, 4)), n_classes=3)
    loss = net(torch.rand(5, 10), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    assert net.logits(torch.rand(2, 10)).shape == (2, 3)
