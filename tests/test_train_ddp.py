"""DDP: two CPU processes under torchrun (gloo) give the results of one process with the
same global batch."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SRC = str(Path(__file__).resolve().parents[1] / "src")

_SCRIPT = r"""
import os, sys, torch
from torch import nn
from torch.nn import functional as F
from daekit.train import Trainer, TrainConfig

out = sys.argv[1]
world = int(os.environ.get("WORLD_SIZE", "1"))

class AE(nn.Module):  # deterministic loss: DDP must match one process, not just in law
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 8))
    def forward(self, x):
        if self.training:  # each process trains on its share of the global batch
            assert x.shape[0] == 16 // world, x.shape
        return F.mse_loss(self.net(x), x)

torch.manual_seed(0)
model = AE()
x, v = torch.randn(100, 8), torch.randn(40, 8)
cfg = TrainConfig(max_steps=14, batch_size=16, lr=1e-2, schedule="cosine", grad_clip=0.5,
                  log_every=7, val_every=7, out_dir=out, quiet=True, device="cpu", seed=1)
Trainer(model, cfg).fit(x, v)
if int(os.environ.get("RANK", "0")) == 0:
    torch.save(model.state_dict(), os.path.join(out, "params.pt"))
    import torch.distributed as dist
    print("initialized after fit:", dist.is_initialized())
"""


def _env():
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}


def _metrics(path: Path) -> list[tuple[float, float]]:
    with open(path, newline="") as fh:
        return [(float(r["train_loss"]), float(r["val_loss"] or "nan")) for r in csv.DictReader(fh)]


def test_two_process_ddp_equals_one_process(tmp_path):
    pytest.importorskip("torch.distributed")
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this PyTorch build has no gloo backend")
    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT)
    one, two = tmp_path / "one", tmp_path / "two"

    res = subprocess.run(
        [sys.executable, str(script), str(one)], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), str(two)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "initialized after fit: False" in res.stdout  # the Trainer tore its process group down

    p1 = torch.load(one / "params.pt", weights_only=True)
    p2 = torch.load(two / "params.pt", weights_only=True)
    for name in p1:
        torch.testing.assert_close(p2[name], p1[name], atol=1e-6, rtol=1e-5)
    m1, m2 = _metrics(one / "metrics.csv"), _metrics(two / "metrics.csv")
    assert len(m1) == len(m2) == 2
    torch.testing.assert_close(torch.tensor(m2), torch.tensor(m1), atol=1e-6, rtol=1e-5, equal_nan=True)
    # Rank 0 alone wrote the run folder.
    assert sorted(p.name for p in two.iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in one.iterdir() if not p.name.startswith(".")
    )
